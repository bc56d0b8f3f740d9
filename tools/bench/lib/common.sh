# shellcheck shell=bash
# Shared by tools/bench/compare-peers.sh (sourced, not run): logging, free ports, the
# servers the comparison starts and their clean-up, and reading fields out of JSON.
#
# Every server is started in its own session (setsid) so that stopping it also stops its
# children (Celery's prefork pool) and so that a Ctrl-C meant for the script does not
# kill a server before the trap has stopped it in order.

# Where peers keep their data: beside broker-bench's own temporary dirs (it also uses
# $TMPDIR, else /tmp), so that brokerd and every peer fsync to the same disk.
BENCH_TMP=$(mktemp -d "${TMPDIR:-/tmp}/compare-peers.XXXXXX")
SERVER_PIDS=()

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# A TCP port nobody listens on now. Another process may still take it before our server
# binds it; start_server() retries on a new port when that happens.
free_port() {
  if [[ -x /usr/bin/python3 ]]; then
    /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
    return
  fi
  local port
  while :; do
    port=$((20000 + RANDOM % 40000))
    if [[ -z $(ss -Hltn "sport = :$port") ]]; then
      echo "$port"
      return
    fi
  done
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# alive PID: running, not merely a zombie waiting for `wait` (kill -0 succeeds on those).
alive() {
  local state
  state=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
  [[ -n $state && $state != Z* ]]
}

# start_process LOG COMMAND...: starts COMMAND in its own session, output to LOG, and
# tracks it for cleanup(). Sets SERVER_PID (the session's leader).
#
# COMMAND runs under a small watchdog that stops it if this script is gone: cleanup()
# does not run when the script is SIGKILLed, and in testing bash 5.2 now and then died
# of a SIGTERM it had a trap for while in `wait`. stop_server() signals the whole
# session, so the command gets its SIGTERM directly; the watchdog only waits for it.
start_process() {
  local logfile=$1
  shift
  # shellcheck disable=SC2016  # expanded by the watchdog's bash, not here
  setsid bash -c '
    owner=$1
    shift
    "$@" &
    child=$!
    trap : TERM
    while kill -0 "$owner" 2>/dev/null && kill -0 "$child" 2>/dev/null; do
      sleep 1 &
      wait $! || true
    done
    kill -TERM "$child" 2>/dev/null
    wait "$child"' watchdog "$$" "$@" >"$logfile" 2>&1 &
  SERVER_PID=$!
  SERVER_PIDS+=("$SERVER_PID")
}

# start_server NAME PORT LOG COMMAND...: starts COMMAND in its own session and waits up
# to 20 s until PORT accepts connections. Sets SERVER_PID. Returns 1 (the log tells why)
# if the server exits or never listens.
start_server() {
  local name=$1 port=$2 logfile=$3
  shift 3
  start_process "$logfile" "$@"
  local tries
  for ((tries = 0; tries < 200; tries++)); do
    if ! alive "$SERVER_PID"; then
      log "$name exited at start; its log ($logfile):"
      tail -n 5 "$logfile" >&2 || true
      return 1
    fi
    if port_open "$port"; then return 0; fi
    sleep 0.1
  done
  log "$name did not listen on port $port within 20 s"
  stop_server "$SERVER_PID"
  return 1
}

# start_on_free_port NAME LOG COMMAND...: start_server on a fresh free port, where every
# "@PORT@" in COMMAND is replaced by the port; three tries, in case another process took
# the port between free_port and the bind. Sets SERVER_PORT and SERVER_PID.
start_on_free_port() {
  local name=$1 logfile=$2 attempt
  shift 2
  for attempt in 1 2 3; do
    SERVER_PORT=$(free_port)
    if start_server "$name" "$SERVER_PORT" "$logfile" "${@//@PORT@/$SERVER_PORT}"; then return 0; fi
    log "$name: start attempt $attempt failed"
  done
  return 1
}

# stop_server PID: SIGTERM to the server's process group (its own session when setsid
# did not have to fork), SIGKILL after 10 s.
stop_server() {
  local pid=$1 target=$1 i
  if [[ $(ps -o pgid= -p "$pid" 2>/dev/null | tr -d ' ') == "$pid" ]]; then target=-$pid; fi
  if kill -TERM -- "$target" 2>/dev/null; then
    for ((i = 0; i < 100; i++)); do
      alive "$pid" || break
      sleep 0.1
    done
    kill -KILL -- "$target" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
  # Forget it, so that cleanup() never signals a later process that reuses the id.
  local kept=() other
  for other in "${SERVER_PIDS[@]}"; do [[ $other == "$pid" ]] || kept+=("$other"); done
  SERVER_PIDS=("${kept[@]}")
}

cleanup() {
  local pid
  stop_client
  for pid in "${SERVER_PIDS[@]}"; do stop_server "$pid"; done
  rm -rf "$BENCH_TMP"
}

# bounded SECONDS COMMAND...: runs a client with a hard time limit (-k: SIGKILL if it
# ignores the SIGTERM). It runs in the background and we `wait` for it, because bash
# runs a trap only once a foreground command has finished: this way a Ctrl-C or SIGTERM
# stops the script at once, and cleanup() stops the client (timeout passes the SIGTERM
# on, so broker-bench still stops the brokerd it spawned).
CLIENT_PID=""
bounded() {
  local seconds=$1 status=0
  shift
  timeout -k 10 "$seconds" "$@" &
  CLIENT_PID=$!
  wait "$CLIENT_PID" || status=$?
  CLIENT_PID=""
  return "$status"
}

stop_client() {
  [[ -n $CLIENT_PID ]] || return 0
  local i
  kill -TERM "$CLIENT_PID" 2>/dev/null || true
  for ((i = 0; i < 150; i++)); do
    alive "$CLIENT_PID" || break
    sleep 0.1
  done
  # timeout leads a process group of its own: kill the client under it too.
  local target=$CLIENT_PID
  if [[ $(ps -o pgid= -p "$CLIENT_PID" 2>/dev/null | tr -d ' ') == "$CLIENT_PID" ]]; then target=-$CLIENT_PID; fi
  kill -KILL -- "$target" 2>/dev/null || true
  wait "$CLIENT_PID" 2>/dev/null || true
  CLIENT_PID=""
}

# jget FILE PATH: prints the field at PATH (".a.b") of the JSON object in FILE, or
# nothing when it is missing. jq when present, else the system python3.
jget() {
  local file=$1 path=$2
  if command -v jq >/dev/null 2>&1; then
    # Not "// empty": that would also drop a `false`.
    jq -r "($path) | if . == null then empty else . end" "$file" 2>/dev/null || true
  else
    /usr/bin/python3 - "$file" "$path" <<'EOF' 2>/dev/null || true
import json, sys
value = json.load(open(sys.argv[1]))
for key in filter(None, sys.argv[2].split(".")):
    value = value.get(key) if isinstance(value, dict) else None
if value is not None:
    print(str(value).lower() if isinstance(value, bool) else value)
EOF
  fi
}

# dsync_probe: the mean time of a 4 KiB O_DSYNC write in BENCH_TMP, in microseconds,
# printed with the table: every durable figure here waits on the disk, and on a shared
# machine the disk's speed moves a lot between sittings.
dsync_probe() {
  local count=200 seconds
  seconds=$(bounded 30 dd if=/dev/zero of="$BENCH_TMP/dsync-probe" bs=4k count=$count oflag=dsync 2>&1 |
    awk '/copied/ { for (i = 1; i < NF; i++) if ($(i + 1) ~ /^s,?$/) print $i }') || true
  rm -f "$BENCH_TMP/dsync-probe"
  [[ -z $seconds ]] || awk -v s="$seconds" -v n=$count 'BEGIN { printf "%.0f", s / n * 1e6 }'
}
