# shellcheck shell=bash
# Shared by tools/bench/compare-peers.sh (sourced, not run): the brokerd side of every
# comparison, through broker-bench --spawn (a private brokerd on a temporary data dir,
# fresh for each run, stopped by broker-bench at the end).

# bb_run NAME SYNC ARGS...: one broker-bench run against a spawned brokerd with --sync
# SYNC ("always", or "interval:MS" for --sync interval --sync-interval-ms MS). Leaves its
# JSON in BB_FILE. Returns 1 (after logging why) when broker-bench printed no report.
bb_run() {
  local name=$1 sync=$2
  shift 2
  local sync_args=(--sync "$sync")
  if [[ $sync == interval:* ]]; then
    sync_args=(--sync interval "--brokerd-arg=--sync-interval-ms=${sync#interval:}")
  fi
  BB_FILE="$BENCH_TMP/bb-$name.json"
  local errors="$BENCH_TMP/bb-$name.err" status=0
  local args=(--spawn "${sync_args[@]}" "$@" --max-seconds "$RUN_MAX_SECONDS" --json --no-progress)
  record_command brokerd broker-bench "${args[@]}"
  bounded "$CLIENT_TIMEOUT" "$BROKER_BENCH" "${args[@]}" >"$BB_FILE" 2>"$errors" || status=$?
  if [[ ! -s $BB_FILE ]]; then
    log "broker-bench $name printed no report (exit $status): $(tail -n 3 "$errors" | tr '\n' ' ')"
    return 1
  fi
}

# bb_value PATH: a field of the last run's report, e.g. bb_value .tasks_per_s
bb_value() { jget "$BB_FILE" "$1"; }

# bb_cut [PATH]: "true" when the part of the last run at PATH (e.g. .drain) was cut
# short; the whole run's flag when that part has none.
bb_cut() {
  local completed
  completed=$(jget "$BB_FILE" "${1:-}.completed")
  [[ -n $completed ]] || completed=$(jget "$BB_FILE" .completed)
  if [[ $completed == false ]]; then echo true; else echo false; fi
}

# bb_measure NAME SYNC FIELD ARGS...: runs broker-bench and sets BB_RESULT to FIELD
# (empty on failure) and BB_RESULT_CUT to whether that part was cut short.
# shellcheck disable=SC2034  # BB_RESULT and BB_RESULT_CUT are the callers' to read
bb_measure() {
  local name=$1 sync=$2 field=$3
  shift 3
  BB_RESULT=""
  BB_RESULT_CUT=false
  if bb_run "$name" "$sync" "$@"; then
    BB_RESULT=$(bb_value "$field")
    local part=${field%.*}
    BB_RESULT_CUT=$(bb_cut "$part")
  fi
}

# start_brokerd NAME ARGS...: a private brokerd for clients other than broker-bench (the
# Python client), on a port it picks itself (--listen 127.0.0.1:0 --port-file, so no other
# process can take the port first), with a fresh data dir in BENCH_TMP (the disk every
# peer uses), its log in BENCH_TMP/NAME.log. ARGS are more brokerd flags (e.g. --sync
# always). Waits up to 20 s until it listens. Sets SERVER_PID and SERVER_PORT; returns 1
# (after logging why) when it exits or never listens.
start_brokerd() {
  local name=$1
  shift
  local dir="$BENCH_TMP/$name" tries
  mkdir -p "$dir"
  local args=(--listen 127.0.0.1:0 --port-file "$dir/port" --data-dir "$dir/data" "$@")
  record_command brokerd brokerd "${args[@]}"
  start_process "$BENCH_TMP/$name.log" "$BUILD_DIR/server/brokerd" "${args[@]}"
  SERVER_PORT=""
  for ((tries = 0; tries < 200; tries++)); do
    if ! alive "$SERVER_PID"; then
      log "$name (brokerd) exited at start; its log ($BENCH_TMP/$name.log):"
      tail -n 5 "$BENCH_TMP/$name.log" >&2 || true
      return 1
    fi
    if [[ -s $dir/port ]]; then
      SERVER_PORT=$(tr -dc 0-9 <"$dir/port")
      if [[ -n $SERVER_PORT ]] && port_open "$SERVER_PORT"; then return 0; fi
    fi
    sleep 0.1
  done
  log "$name (brokerd) did not listen within 20 s"
  stop_server "$SERVER_PID"
  return 1
}
