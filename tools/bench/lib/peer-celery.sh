# shellcheck shell=bash
# Shared by tools/bench/compare-peers.sh (sourced, not run): Celery + Redis, the set-up
# brokerd replaces, with the no-op task of tools/bench/celery/bench_app.py. Redis is
# configured as in ../shared/peers.md (AOF everysec, RDB off); brokerd runs at its
# default, --sync always, so the comparison never favours brokerd's durability.
#
# The system python3 is used on purpose: python3-celery and python3-redis are Debian
# packages, and a python3 earlier on PATH (pyenv, a venv) may not have them.

PYTHON=/usr/bin/python3

celery_available() { [[ -x $PYTHON ]] && "$PYTHON" -c 'import celery, redis' 2>/dev/null; }

# celery_command PORT: sets CELERY_PYTHON, the command prefix that runs the system
# python3 in the app's dir against our Redis, with nothing from the caller's Python
# set-up and no __pycache__ left in the source tree. (An array, not a function: setsid
# and timeout run programs.)
celery_command() {
  CELERY_PYTHON=(env -u PYTHONPATH -u PYTHONHOME -C "$CELERY_DIR" "BENCH_REDIS_URL=redis://127.0.0.1:$1/0"
    PYTHONDONTWRITEBYTECODE=1 "$PYTHON")
}

# celery_group: the heading of the rows that compare with Celery.
celery_group() {
  echo "Celery $("$PYTHON" -c 'import celery; print(celery.__version__)') + Redis $(redis_version) (AOF everysec), --pool=$CELERY_POOL --concurrency=2"
}

# celery_measure: runs the Celery side once per sitting (Redis, a worker, then
# run_celery_e2e.py) and sets CELERY_JSON to its report (a file that may be empty when
# the run failed or Celery is missing, with a note saying why) and CELERY_SKIPPED to true
# when Celery or Redis is not installed. The celery and the python sections both compare
# with it; the second caller reuses the first run.
CELERY_JSON=""
CELERY_SKIPPED=false
celery_measure() {
  if [[ -n $CELERY_JSON ]]; then return 0; fi
  CELERY_JSON="$BENCH_TMP/celery.json"
  : >"$CELERY_JSON"
  if ! command -v redis-server >/dev/null; then
    note "Celery skipped: redis-server is not installed (Debian: redis-server)"
    CELERY_SKIPPED=true
    return 0
  fi
  if ! celery_available; then
    note "Celery skipped: '$PYTHON -c \"import celery, redis\"' fails (Debian: python3-celery, python3-redis)"
    CELERY_SKIPPED=true
    return 0
  fi
  local out=$CELERY_JSON status=0 worker_pid redis_pid

  log "Celery: $CELERY_TASKS tasks, $CELERY_ROUNDTRIPS round trips"
  if start_redis everysec; then
    redis_pid=$SERVER_PID
    celery_command "$SERVER_PORT"
    local worker=(-m celery -A bench_app worker --concurrency=2 "--pool=$CELERY_POOL" --loglevel=WARNING)
    record_command celery python3 "${worker[@]}"
    start_process "$BENCH_TMP/celery-worker.log" "${CELERY_PYTHON[@]}" "${worker[@]}"
    worker_pid=$SERVER_PID
    local driver=(run_celery_e2e.py --tasks "$CELERY_TASKS" --roundtrips "$CELERY_ROUNDTRIPS"
      --timeout "$RUN_MAX_SECONDS")
    record_command celery python3 "${driver[@]}"
    bounded "$CLIENT_TIMEOUT" "${CELERY_PYTHON[@]}" "${driver[@]}" >"$out" 2>"$out.err" || status=$?
    stop_server "$worker_pid"
    stop_server "$redis_pid"
    if [[ ! -s $out ]]; then
      note "Celery run failed (exit $status): $(tail -n 2 "$out.err" | tr '\n' ' ') worker log: $(tail -n 2 "$BENCH_TMP/celery-worker.log" | tr '\n' ' ')"
    fi
  else
    note "redis-server for Celery did not start; Celery figures are missing"
  fi
  local wrong
  wrong=$(jget "$out" .e2e.wrong_results)
  if [[ -n $wrong && $wrong != 0 ]]; then note "Celery returned $wrong wrong results"; fi
}

# celery_value PATH / celery_cut PATH: a field of the Celery report; "true" when the
# part PATH (e.g. .e2e.completed) says it was cut short.
celery_value() { jget "$CELERY_JSON" "$1"; }
celery_cut() { if [[ $(jget "$CELERY_JSON" "$1") == false ]]; then echo true; else echo false; fi; }

run_celery_section() {
  celery_measure
  if [[ $CELERY_SKIPPED == true ]]; then return 0; fi
  local out=$CELERY_JSON group
  group="$(celery_group), vs brokerd --sync always"

  # brokerd shaped like the Celery run: one producer sending one task at a time (as
  # .delay() does), one worker connection holding up to 8 unfinished tasks (Celery's
  # prefetch multiplier 4 x concurrency 2).
  bb_measure "celery-e2e" always .tasks_per_s --scenario e2e --producers 1 --pipeline 1 --workers 1 --prefetch 8 \
    --tasks "$CELERY_TASKS"
  local e2e_cut=false enqueue_cut=false rtt_cut=false
  [[ $(jget "$out" .e2e.completed) == false ]] && e2e_cut=true
  [[ $(jget "$out" .e2e.enqueue_completed) == false ]] && enqueue_cut=true
  [[ $(jget "$out" .roundtrip.completed) == false ]] && rtt_cut=true
  add_row "$group" "e2e, $CELERY_TASKS tasks, 1 producer one at a time" rate "$BB_RESULT" \
    "$(jget "$out" .e2e.tasks_per_s)" "$BB_RESULT_CUT" "$e2e_cut"
  # The same, with broker-bench's own shape (pipeline 64, prefetch 100): what one
  # brokerd producer can do when it does not wait for each confirmation in turn, which
  # .delay() cannot do.
  bb_measure "celery-e2e-pipelined" always .tasks_per_s --scenario e2e --producers 1 --workers 1 \
    --tasks "$CELERY_TASKS"
  add_row "$group" "e2e, $CELERY_TASKS tasks, brokerd pipelined (64 in flight)" rate "$BB_RESULT" \
    "$(jget "$out" .e2e.tasks_per_s)" "$BB_RESULT_CUT" "$e2e_cut"
  bb_measure "celery-enqueue" always .tasks_per_s --scenario enqueue --producers 1 --pipeline 1 \
    --tasks "$CELERY_TASKS"
  add_row "$group" "enqueue only, 1 producer one at a time (.delay())" rate "$BB_RESULT" \
    "$(jget "$out" .e2e.enqueue_tasks_per_s)" "$BB_RESULT_CUT" "$enqueue_cut"
  bb_measure "latency" always .latency_us.p50 --scenario latency --tasks "$LATENCY_TASKS"
  local p50 p99 cut=$BB_RESULT_CUT
  p50=$(us_to_ms "$BB_RESULT")
  p99=$(us_to_ms "$(bb_value .latency_us.p99)")
  add_row "$group" "round trip p50: delay().get() vs broker-bench latency" ms "$p50" \
    "$(jget "$out" .roundtrip.p50_ms)" "$cut" "$rtt_cut"
  add_row "$group" "round trip p99" ms "$p99" "$(jget "$out" .roundtrip.p99_ms)" "$cut" "$rtt_cut"
}

# us_to_ms MICROSECONDS: prints milliseconds, nothing for nothing (and never fails, so
# that it is safe in an assignment under set -e).
us_to_ms() {
  [[ -z $1 ]] || awk -v us="$1" 'BEGIN { printf "%.4f", us / 1000 }'
}
