#!/usr/bin/env bash
# Crash torture, long form: SIGKILL brokerd many times, then worker processes many times,
# each run checking every confirmed enqueue and completion at the end (broker-torture
# --help explains the checks). Loopback only; each run is bounded by --max-seconds.
#
#   tools/torture/crash-torture.sh [--build-dir DIR] [--broker-kills N] [--worker-kills N]
#                                  [--max-seconds S] [-- extra broker-torture flags]
#
# Defaults: build/, 200 brokerd kills, 100 worker kills, 900 s per run. Builds nothing:
# build the broker-torture target first (it pulls in brokerd), e.g.
#   cmake --build build -j2 --target broker-torture
# Exit status: 0 when every run passed, else the first failing run's status.
set -euo pipefail

build_dir=build
broker_kills=200
worker_kills=100
max_seconds=900
extra=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build-dir) build_dir=$2; shift 2 ;;
    --broker-kills) broker_kills=$2; shift 2 ;;
    --worker-kills) worker_kills=$2; shift 2 ;;
    --max-seconds) max_seconds=$2; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done

tool="$build_dir/tools/torture/broker-torture"
if [[ ! -x "$tool" ]]; then
  echo "no $tool: build it first (cmake --build $build_dir -j2 --target broker-torture)" >&2
  exit 2
fi

status=0
run() {
  echo "+ $tool $*"
  "$tool" "$@" || { local s=$?; [[ $status -eq 0 ]] && status=$s; }
  echo
}

# brokerd crashes: pauses long enough that producers and workers are back at full speed
# before the next kill, short enough that the kills land in every phase of the load.
if [[ $broker_kills -gt 0 ]]; then
  run --kill broker --kills "$broker_kills" --work-ms 5 --kill-min-ms 300 --kill-max-ms 1500 \
      --max-seconds "$max_seconds" "${extra[@]}"
fi
# Worker crashes: more workers and longer handlers, so that a kill finds tasks running.
if [[ $worker_kills -gt 0 ]]; then
  run --kill workers --kills "$worker_kills" --workers 4 --work-ms 20 --kill-min-ms 200 --kill-max-ms 1000 \
      --max-seconds "$max_seconds" "${extra[@]}"
fi
exit $status
