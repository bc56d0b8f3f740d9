# shellcheck shell=bash
# Shared by tools/bench/compare-peers.sh (sourced, not run): beanstalkd with its binlog,
# driven by tools/bench/beanstalk-load (C connections x N jobs, pipeline 64, 200-byte
# jobs: the shape of ../shared/peers.md), next to broker-bench with the same connections
# and pipeline depth.

BEANSTALK_CONNECTIONS=4
BEANSTALK_PIPELINE=64

# start_beanstalkd ARGS...: beanstalkd on loopback with a binlog in a fresh dir; ARGS
# choose the fsync policy (none: at most every 50 ms; -f 0: every write).
start_beanstalkd() {
  local dir
  dir=$(mktemp -d "$BENCH_TMP/beanstalkd.XXXXXX")
  start_on_free_port beanstalkd "$dir/server.log" beanstalkd -l 127.0.0.1 -p @PORT@ -b "$dir" "$@"
}

# beanstalk_load NAME ARGS...: one beanstalk-load run against the current server; sets
# BL_RATE (tasks/s, empty on failure), BL_TASKS and BL_CUT.
beanstalk_load() {
  local name=$1 file="$BENCH_TMP/beanstalk-$1.json" status=0
  shift
  local command=("$BEANSTALK_LOAD" --server "127.0.0.1:$SERVER_PORT" --connections "$BEANSTALK_CONNECTIONS"
    --pipeline "$BEANSTALK_PIPELINE" --max-seconds "$RUN_MAX_SECONDS" "$@")
  record_command beanstalkd beanstalk-load "${command[@]:1}"
  bounded "$CLIENT_TIMEOUT" "${command[@]}" >"$file" 2>"$file.err" || status=$?
  BL_RATE=$(jget "$file" .tasks_per_s)
  BL_TASKS=$(jget "$file" .tasks)
  BL_CUT=false
  [[ $(jget "$file" .completed) == false ]] && BL_CUT=true
  if [[ -z $BL_RATE || ($status -ne 0 && $status -ne 3) ]]; then
    note "beanstalk-load $name failed (exit $status): $(jget "$file" .error) $(tail -n 2 "$file.err" | tr '\n' ' ')"
    BL_RATE=""
  fi
}

run_beanstalkd_section() {
  if ! command -v beanstalkd >/dev/null; then
    note "beanstalkd skipped: beanstalkd is not installed (Debian: beanstalkd)"
    return
  fi
  if [[ ! -x $BEANSTALK_LOAD ]]; then
    note "beanstalkd skipped: $BEANSTALK_LOAD is missing (cmake --build $BUILD_DIR --target beanstalk-load)"
    return
  fi
  local version variant sync group tasks put_rate put_cut drain_rate drain_cut
  version=$(beanstalkd -v 2>&1 | awk '{ print $2 }')
  tasks=$((BEANSTALK_CONNECTIONS * BEANSTALK_JOBS))
  local shape="$BEANSTALK_CONNECTIONS conn, pipeline $BEANSTALK_PIPELINE"
  for variant in every-write default; do
    local server_args=()
    # brokerd at the same durability: fsync before every reply, or at most every 50 ms.
    if [[ $variant == every-write ]]; then
      server_args=(-f 0)
      sync=always
      group="beanstalkd $version -b DIR -f 0 (fsync every write) vs brokerd --sync always"
    else
      sync=interval:50
      group="beanstalkd $version -b DIR (fsync <= 50 ms) vs brokerd --sync interval 50 ms"
    fi
    log "beanstalkd: ${server_args[*]:-default fsync}"
    put_rate=""
    drain_rate=""
    put_cut=false
    drain_cut=false
    if start_beanstalkd "${server_args[@]}"; then
      record_command beanstalkd beanstalkd -l 127.0.0.1 -p "$SERVER_PORT" -b DIR "${server_args[@]}"
      beanstalk_load "put-$variant" --mode put --jobs "$BEANSTALK_JOBS"
      put_rate=$BL_RATE
      put_cut=$BL_CUT
      # Drain what was put (all of it unless the put was cut short).
      if [[ -n $put_rate ]]; then
        beanstalk_load "drain-$variant" --mode drain --expect "$BL_TASKS"
        drain_rate=$BL_RATE
        drain_cut=$BL_CUT
      fi
      stop_server "$SERVER_PID"
    else
      note "beanstalkd ${server_args[*]} did not start; its figures are missing"
    fi

    local both=(--producers "$BEANSTALK_CONNECTIONS" --workers "$BEANSTALK_CONNECTIONS" --pipeline "$BEANSTALK_PIPELINE"
      --prefetch "$BEANSTALK_PIPELINE" --tasks "$tasks")
    bb_measure "enqueue-4-p64-$variant" "$sync" .tasks_per_s --scenario enqueue --producers "$BEANSTALK_CONNECTIONS" \
      --pipeline "$BEANSTALK_PIPELINE" --tasks "$tasks"
    add_row "$group" "put vs enqueue, $shape" rate "$BB_RESULT" "$put_rate" "$BB_RESULT_CUT" "$put_cut"
    # beanstalkd's reserve+delete drains a full queue; broker-bench e2e enqueues at the
    # same time as it consumes and completes (more work per task), backlog drains a full
    # queue like beanstalk-load does.
    bb_measure "e2e-4-p64-$variant" "$sync" .tasks_per_s --scenario e2e "${both[@]}"
    add_row "$group" "reserve+delete vs e2e (enqueue+consume+complete), 4+4 conn" rate "$BB_RESULT" "$drain_rate" \
      "$BB_RESULT_CUT" "$drain_cut"
    bb_measure "backlog-4-p64-$variant" "$sync" .drain.tasks_per_s --scenario backlog "${both[@]}"
    add_row "$group" "reserve+delete vs drain of a full queue (consume+complete)" rate "$BB_RESULT" "$drain_rate" \
      "$BB_RESULT_CUT" "$drain_cut"
  done
}
