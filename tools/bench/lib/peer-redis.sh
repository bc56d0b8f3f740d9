# shellcheck shell=bash
# Shared by tools/bench/compare-peers.sh (sourced, not run): Redis as a plain durable
# list. redis-benchmark LPUSH/RPOP (-c 50 -d 200) against a private redis-server with
# the AOF on, next to broker-bench enqueue with the same 50 connections and the same
# pipeline depth. Each run gets a fresh server and data dir, as each broker-bench
# --spawn run gets a fresh brokerd.

redis_version() { redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p'; }

# start_redis FSYNC: redis-server with appendonly yes, appendfsync FSYNC and RDB
# snapshots off, so that the AOF is its only durability (as in ../shared/peers.md).
start_redis() {
  local fsync=$1 dir
  dir=$(mktemp -d "$BENCH_TMP/redis.XXXXXX")
  start_on_free_port redis-server "$dir/server.log" redis-server --bind 127.0.0.1 --port @PORT@ --dir "$dir" \
    --appendonly yes --appendfsync "$fsync" --save "" --daemonize no --protected-mode yes
}

# redis_benchmark FSYNC PIPELINE: one redis-benchmark run on a fresh server; sets
# RB_LPUSH and RB_RPOP (requests/s, empty when not measured).
redis_benchmark() {
  local fsync=$1 pipeline=$2 out="$BENCH_TMP/redis-benchmark-$1-$2.csv" status=0
  RB_LPUSH=""
  RB_RPOP=""
  if ! start_redis "$fsync"; then
    note "redis-server (appendfsync $fsync) did not start; its pipeline $pipeline figures are missing"
    return
  fi
  # shellcheck disable=SC2054  # "lpush,rpop" is one argument
  local command=(redis-benchmark -h 127.0.0.1 -p "$SERVER_PORT" -c 50 -d 200 -n "$REDIS_REQUESTS" -P "$pipeline"
    -t lpush,rpop --csv)
  record_command redis "${command[@]}"
  bounded "$CLIENT_TIMEOUT" "${command[@]}" >"$out" 2>"$out.err" || status=$?
  stop_server "$SERVER_PID"
  # --csv: "test","rps",... then one line per test, e.g. "LPUSH","61349.69",...
  RB_LPUSH=$(awk -F, '$1 == "\"LPUSH\"" { gsub(/"/, "", $2); print $2 }' "$out")
  RB_RPOP=$(awk -F, '$1 == "\"RPOP\"" { gsub(/"/, "", $2); print $2 }' "$out")
  if [[ -z $RB_LPUSH || -z $RB_RPOP ]]; then
    note "redis-benchmark (appendfsync $fsync, pipeline $pipeline) gave no figures (exit $status)"
  fi
}

run_redis_section() {
  if ! command -v redis-server >/dev/null || ! command -v redis-benchmark >/dev/null; then
    note "Redis skipped: redis-server or redis-benchmark is not installed (Debian: redis-server, redis-tools)"
    return
  fi
  local fsync sync group pipeline rpop_rows=()
  for fsync in always everysec; do
    # brokerd at the same durability: fsync before every reply, or on a 1 s timer.
    if [[ $fsync == always ]]; then
      sync=always
      group="Redis $(redis_version) appendfsync always vs brokerd --sync always"
    else
      sync=interval:1000
      group="Redis $(redis_version) appendfsync everysec vs brokerd --sync interval 1000 ms"
    fi
    rpop_rows=()
    for pipeline in 1 32; do
      log "Redis: appendfsync $fsync, pipeline $pipeline"
      redis_benchmark "$fsync" "$pipeline"
      bb_measure "enqueue-50-p$pipeline-$fsync" "$sync" .tasks_per_s --scenario enqueue --producers 50 \
        --pipeline "$pipeline" --tasks "$REDIS_REQUESTS"
      add_row "$group" "enqueue vs LPUSH, 50 conn, pipeline $pipeline" rate "$BB_RESULT" "$RB_LPUSH" \
        "$BB_RESULT_CUT" false
      rpop_rows+=("$pipeline:$RB_RPOP")
    done
    # RPOP has no brokerd counterpart (a delivery is only half of consume + complete);
    # shown for scale.
    local row
    for row in "${rpop_rows[@]}"; do
      add_row "$group" "RPOP alone (no brokerd counterpart), pipeline ${row%%:*}" rate "" "${row#*:}"
    done
  done
}
