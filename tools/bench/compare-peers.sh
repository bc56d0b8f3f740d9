#!/usr/bin/env bash
# Runs brokerd and its peers side by side, in one sitting, on 127.0.0.1 only, and prints
# one table: measure | brokerd | peer | ratio brokerd/peer. See --help.
#
# Each comparison gives both sides the same load shape (connections, pipeline depth,
# 200-byte payloads) and, where the peer has such a setting, the same durability. Peers
# that are not installed are skipped with a note, never estimated. Every server started
# here is stopped on exit, and every client run has a time limit.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
here="$root/tools/bench"

usage() {
  cat <<EOF
Usage: tools/bench/compare-peers.sh [--quick] [--build-dir DIR] [--json-out FILE]
                                    [--peers LIST] [--celery-pool POOL]

Measures brokerd (through broker-bench --spawn) next to, in one sitting:
  redis      redis-benchmark -c 50 -d 200 -t lpush,rpop, pipeline 1 and 32, against a
             private redis-server (appendonly yes, appendfsync always then everysec,
             save ""), vs broker-bench enqueue --producers 50 --pipeline 1 / 32 with
             --sync always / --sync interval 1000 ms.
  beanstalkd beanstalkd -b DIR -f 0 and -b DIR (fsync <= 50 ms), loaded by
             beanstalk-load (4 connections, pipeline 64, 200-byte jobs: put, then
             reserve+delete), vs broker-bench enqueue, e2e and backlog drain with the
             same connections, --sync always / --sync interval 50 ms.
  celery     Celery + Redis (AOF everysec) running a no-op add(x, y)
             (tools/bench/celery/), end to end and round trip, vs broker-bench e2e,
             enqueue and latency with --sync always.
  python     brokerd's Python client (client/python) driving the same add(x, y) from
             Python (tools/bench/python/): a private brokerd --sync always and a
             2-process prefork worker (python3 -m brokerd worker -A bench_tasks
             --concurrency 2 --pool prefork), vs the Celery + Redis run above (run
             once, shared). .delay() one at a time then .get() each (end to end and
             enqueue rate), await adelay() with 1024 in flight (end to end and
             enqueue), pipelined enqueue into a queue no worker reads, send_batch()
             of 1000, and delay().get() round trips (p50, p99).

Options:
  --quick            small counts, to check that everything runs (about 2-3 minutes)
  --build-dir DIR    where broker-bench and beanstalk-load were built (default: build)
  --json-out FILE    also write the figures, notes and command lines as JSON
  --peers LIST       comma-separated subset of redis,beanstalkd,celery,python
                     (default: all)
  --celery-pool P    Celery worker pool: prefork (default), solo or threads
  -h, --help         this text

Needs a build of the broker-bench, brokerd and beanstalk-load targets:
  cmake --build build --target brokerd broker-bench beanstalk-load
Peers not installed are skipped with a note (Debian packages: redis-server,
redis-tools, beanstalkd, python3-celery, python3-redis; python3-protobuf for the Python
client). Progress goes to stderr, the table to stdout. Figures on a shared machine are
noisy: compare ratios from one sitting.
EOF
}

MODE=full
BUILD_DIR="$root/build"
JSON_OUT=""
PEERS=redis,beanstalkd,celery,python
CELERY_POOL=prefork
while (($# > 0)); do
  case $1 in
    --quick) MODE=quick ;;
    --build-dir) BUILD_DIR=${2:?--build-dir needs a directory}; shift ;;
    --json-out) JSON_OUT=${2:?--json-out needs a file}; shift ;;
    --peers) PEERS=${2:?--peers needs a list}; shift ;;
    --celery-pool) CELERY_POOL=${2:?--celery-pool needs a pool}; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "compare-peers.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
case $CELERY_POOL in prefork | solo | threads) ;; *) echo "compare-peers.sh: --celery-pool: prefork, solo or threads" >&2; exit 2 ;; esac
if [[ ! -d $BUILD_DIR ]]; then
  echo "compare-peers.sh: no build dir '$BUILD_DIR'" >&2
  exit 2
fi
BUILD_DIR=$(cd "$BUILD_DIR" && pwd)

BROKER_BENCH="$BUILD_DIR/tools/broker-bench/broker-bench"
BEANSTALK_LOAD="$BUILD_DIR/tools/bench/beanstalk-load/beanstalk-load"
CELERY_DIR="$here/celery"
if [[ ! -x $BROKER_BENCH || ! -x $BUILD_DIR/server/brokerd ]]; then
  echo "compare-peers.sh: $BROKER_BENCH or $BUILD_DIR/server/brokerd is missing;" \
    "build them: cmake --build $BUILD_DIR --target brokerd broker-bench beanstalk-load" >&2
  exit 2
fi

# Counts. Full: as in ../shared/peers.md where it gives them, sized so that the whole
# run takes a few minutes on 2 cores. Each client run is cut at RUN_MAX_SECONDS (its
# rate so far is reported, marked "*") and killed at CLIENT_TIMEOUT. PY_WINDOW: the
# Python client's asyncio requests in flight at most.
PY_WINDOW=1024
if [[ $MODE == quick ]]; then
  REDIS_REQUESTS=10000
  BEANSTALK_JOBS=2500 # per connection
  CELERY_TASKS=500
  CELERY_ROUNDTRIPS=100
  LATENCY_TASKS=300
  PY_PIPELINED_TASKS=2000
  RUN_MAX_SECONDS=15
  CLIENT_TIMEOUT=120
else
  REDIS_REQUESTS=100000
  BEANSTALK_JOBS=50000
  CELERY_TASKS=5000
  CELERY_ROUNDTRIPS=1000
  LATENCY_TASKS=2000
  PY_PIPELINED_TASKS=20000
  RUN_MAX_SECONDS=60
  CLIENT_TIMEOUT=240
fi

# shellcheck source=lib/common.sh
source "$here/lib/common.sh"
# shellcheck source=lib/report.sh
source "$here/lib/report.sh"
# shellcheck source=lib/brokerd.sh
source "$here/lib/brokerd.sh"
# shellcheck source=lib/peer-redis.sh
source "$here/lib/peer-redis.sh"
# shellcheck source=lib/peer-beanstalkd.sh
source "$here/lib/peer-beanstalkd.sh"
# shellcheck source=lib/peer-celery.sh
source "$here/lib/peer-celery.sh"
# shellcheck source=lib/peer-python.sh
source "$here/lib/peer-python.sh"

trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

LOAD_AT_START=$(cut -d' ' -f1-3 /proc/loadavg)
START_DATE=$(date -Iseconds)
DSYNC_PROBE_US=$(dsync_probe)
started=$SECONDS
log "compare-peers: $MODE run, temporary dir $BENCH_TMP"
# (if, not &&: a function called on the left of && runs without errexit.)
if [[ ,$PEERS, == *,redis,* ]]; then run_redis_section; fi
if [[ ,$PEERS, == *,beanstalkd,* ]]; then run_beanstalkd_section; fi
if [[ ,$PEERS, == *,celery,* ]]; then run_celery_section; fi
if [[ ,$PEERS, == *,python,* ]]; then run_python_section; fi
log "compare-peers: done in $((SECONDS - started)) s"

print_header
echo
print_table
if [[ -n $JSON_OUT ]]; then
  write_json "$JSON_OUT"
  log "wrote $JSON_OUT"
fi
