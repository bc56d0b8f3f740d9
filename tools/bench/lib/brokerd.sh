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
