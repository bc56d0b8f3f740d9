# shellcheck shell=bash
# Shared by tools/bench/compare-peers.sh (sourced, not run): brokerd's Python client
# (client/python/brokerd) next to Celery + Redis, the same no-op add(x, y) driven the same
# way from Python: tools/bench/python/ against tools/bench/celery/. A private brokerd
# (--sync always, its default) and a 2-process prefork worker of the Python client
# (python3 -m brokerd worker) take Celery's Redis and worker's place; the Celery figures
# come from the same sitting (celery_measure in peer-celery.sh, run once and shared with
# the celery section).
#
# The system python3 (PYTHON, from peer-celery.sh) is used, with client/python as the
# only PYTHONPATH: the client needs only Debian's python3-protobuf.

PY_CLIENT_DIR="$root/client/python"
PY_BENCH_DIR="$here/python"
PY_JSON="$BENCH_TMP/python.json"

# py_value PATH / py_cut PATH: a field of run_python_bench.py's report; "true" when the
# part PATH (e.g. .e2e.completed) says it was cut short.
py_value() { jget "$PY_JSON" "$1"; }
py_cut() { if [[ $(jget "$PY_JSON" "$1") == false ]]; then echo true; else echo false; fi; }

python_client_available() {
  [[ -x $PYTHON ]] && env PYTHONPATH="$PY_CLIENT_DIR" PYTHONDONTWRITEBYTECODE=1 "$PYTHON" -c 'import brokerd' 2>/dev/null
}

# python_command PORT: sets PY_PYTHON, the command prefix that runs the system python3 in
# tools/bench/python with the client importable, against the brokerd on PORT, without the
# caller's token or TLS settings (the private brokerd has neither) and without leaving
# __pycache__ in the source tree.
python_command() {
  PY_PYTHON=(env -u PYTHONHOME -u BROKERD_TOKEN -u BROKERD_TOKEN_FILE -u BROKERD_TLS -C "$PY_BENCH_DIR"
    "PYTHONPATH=$PY_CLIENT_DIR" "BROKERD_SERVER=127.0.0.1:$1" PYTHONDONTWRITEBYTECODE=1 "$PYTHON")
}

run_python_section() {
  if ! python_client_available; then
    note "Python client skipped: 'PYTHONPATH=client/python $PYTHON -c \"import brokerd\"' fails (Debian: python3-protobuf)"
    return
  fi
  local out=$PY_JSON status=0 worker_pid brokerd_pid version
  : >"$out"
  version=$(env PYTHONPATH="$PY_CLIENT_DIR" PYTHONDONTWRITEBYTECODE=1 "$PYTHON" -c 'import brokerd; print(brokerd.__version__)')

  log "Python client: $CELERY_TASKS tasks, $CELERY_ROUNDTRIPS round trips, $PY_PIPELINED_TASKS pipelined"
  if start_brokerd python-brokerd --sync always --log-level warn; then
    brokerd_pid=$SERVER_PID
    python_command "$SERVER_PORT"
    local worker=(-m brokerd worker -A bench_tasks --concurrency 2 --pool prefork --loglevel WARNING)
    record_command brokerd-python python3 "${worker[@]}"
    start_process "$BENCH_TMP/python-worker.log" "${PY_PYTHON[@]}" "${worker[@]}"
    worker_pid=$SERVER_PID
    local driver=(run_python_bench.py --tasks "$CELERY_TASKS" --roundtrips "$CELERY_ROUNDTRIPS"
      --pipelined-tasks "$PY_PIPELINED_TASKS" --window "$PY_WINDOW" --batch 1000 --timeout "$RUN_MAX_SECONDS")
    record_command brokerd-python python3 "${driver[@]}"
    # Six parts of at most RUN_MAX_SECONDS each, and the wait for the worker.
    bounded $((RUN_MAX_SECONDS * 6 + 90)) "${PY_PYTHON[@]}" "${driver[@]}" >"$out" 2>"$out.err" || status=$?
    stop_server "$worker_pid"
    stop_server "$brokerd_pid"
    if [[ ! -s $out ]]; then
      note "Python client run failed (exit $status): $(tail -n 2 "$out.err" | tr '\n' ' ') worker log: $(tail -n 2 "$BENCH_TMP/python-worker.log" | tr '\n' ' ')"
    fi
  else
    note "brokerd for the Python client did not start; its figures are missing"
  fi
  local part wrong
  for part in e2e e2e_pipelined; do
    wrong=$(jget "$out" ".$part.wrong_results")
    if [[ -n $wrong && $wrong != 0 ]]; then note "the Python client's $part run returned $wrong wrong results"; fi
  done

  # The Celery side of the same sitting (run now unless the celery section ran it).
  celery_measure
  local peer="Celery (not measured)"
  if [[ $CELERY_SKIPPED != true ]]; then peer=$(celery_group); fi
  local group="brokerd Python client $version (python3 -m brokerd worker --pool prefork --concurrency 2, brokerd --sync always) vs $peer, the same add(x, y) from Python"

  local celery_e2e celery_enqueue celery_e2e_cut celery_enqueue_cut celery_rtt_cut
  celery_e2e=$(celery_value .e2e.tasks_per_s)
  celery_enqueue=$(celery_value .e2e.enqueue_tasks_per_s)
  celery_e2e_cut=$(celery_cut .e2e.completed)
  celery_enqueue_cut=$(celery_cut .e2e.enqueue_completed)
  celery_rtt_cut=$(celery_cut .roundtrip.completed)

  add_row "$group" "e2e, $CELERY_TASKS tasks: .delay() one at a time, then .get() each" rate \
    "$(py_value .e2e.tasks_per_s)" "$celery_e2e" "$(py_cut .e2e.completed)" "$celery_e2e_cut"
  add_row "$group" "e2e, $CELERY_TASKS tasks: await adelay() ($PY_WINDOW in flight), then aget() (Celery: .delay())" \
    rate "$(py_value .e2e_pipelined.tasks_per_s)" "$celery_e2e" "$(py_cut .e2e_pipelined.completed)" "$celery_e2e_cut"
  add_row "$group" "enqueue, $CELERY_TASKS tasks: .delay() one at a time (worker consuming)" rate \
    "$(py_value .e2e.enqueue_tasks_per_s)" "$celery_enqueue" "$(py_cut .e2e.enqueue_completed)" "$celery_enqueue_cut"
  add_row "$group" "enqueue, $CELERY_TASKS tasks: await adelay() pipelined (worker consuming; Celery: .delay())" rate \
    "$(py_value .e2e_pipelined.enqueue_tasks_per_s)" "$celery_enqueue" "$(py_cut .e2e_pipelined.enqueue_completed)" \
    "$celery_enqueue_cut"
  add_row "$group" "enqueue only, $PY_PIPELINED_TASKS tasks: await aapply_async() in $PY_WINDOW gathered lanes (Celery: .delay())" \
    rate "$(py_value .enqueue_pipelined.tasks_per_s)" "$celery_enqueue" "$(py_cut .enqueue_pipelined.completed)" \
    "$celery_enqueue_cut"
  add_row "$group" "  same, as gather() of every call inside asyncio.Semaphore($PY_WINDOW) (Celery: .delay())" \
    rate "$(py_value .enqueue_pipelined_semaphore.tasks_per_s)" "$celery_enqueue" \
    "$(py_cut .enqueue_pipelined_semaphore.completed)" "$celery_enqueue_cut"
  add_row "$group" "enqueue only, $PY_PIPELINED_TASKS tasks: app.send_many() ($PY_WINDOW in flight, blocking code; Celery: .delay())" \
    rate "$(py_value .enqueue_send_many.tasks_per_s)" "$celery_enqueue" "$(py_cut .enqueue_send_many.completed)" \
    "$celery_enqueue_cut"
  add_row "$group" "enqueue only, $PY_PIPELINED_TASKS tasks: send_batch() of 1000, batched (Celery: .delay())" rate \
    "$(py_value .enqueue_batched.tasks_per_s)" "$celery_enqueue" "$(py_cut .enqueue_batched.completed)" \
    "$celery_enqueue_cut"
  add_row "$group" "round trip p50: delay().get()" ms "$(py_value .roundtrip.p50_ms)" \
    "$(celery_value .roundtrip.p50_ms)" "$(py_cut .roundtrip.completed)" "$celery_rtt_cut"
  add_row "$group" "round trip p99: delay().get()" ms "$(py_value .roundtrip.p99_ms)" \
    "$(celery_value .roundtrip.p99_ms)" "$(py_cut .roundtrip.completed)" "$celery_rtt_cut"

  # Issue 10's aims for the Python client, judged on this sitting's figures.
  local e2e_ratio pipelined_ratio pipelined
  e2e_ratio=$(ratio "$(py_value .e2e.tasks_per_s)" "$celery_e2e")
  pipelined_ratio=$(ratio "$(py_value .e2e_pipelined.tasks_per_s)" "$celery_e2e")
  if [[ $e2e_ratio != - ]]; then
    note "aim: Python e2e >= 5x Celery + Redis: one at a time (the same calls) $(met "$e2e_ratio" 5) (${e2e_ratio}x); with adelay()/aget() pipelined $(met "$pipelined_ratio" 5) (${pipelined_ratio}x)"
  fi
  pipelined=$(py_value .enqueue_pipelined.tasks_per_s)
  if [[ -n $pipelined ]]; then
    note "aim: Python pipelined enqueue >= 20,000 tasks/s: $(met "$pipelined" 20000) ($(format_value "$pipelined" rate false))"
  fi
}

# met VALUE AIM: "met" when VALUE >= AIM, else "NOT met" ("not measured" for "-").
met() {
  if [[ -z $1 || $1 == - ]]; then
    echo "not measured"
  else
    awk -v v="$1" -v aim="$2" 'BEGIN { print (v >= aim ? "met" : "NOT met") }'
  fi
}
