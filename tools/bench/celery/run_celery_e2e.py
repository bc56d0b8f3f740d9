"""Measures Celery + Redis from the producer's side, for tools/bench/compare-peers.sh.

Expects a worker of bench_app already started against the same Redis. Runs, in order:
  warm-up   a few add() round trips, which also wait for the worker to come up;
  e2e       --tasks add.delay() calls in a row (the enqueue-only rate is their time),
            then .get() of every result; the clock stops when the last result is in;
  roundtrip --roundtrips single add.delay(...).get() calls, one at a time (p50, p99).
Prints one JSON object on stdout. Each part stops at --timeout and reports what it did
with "completed": false, so the run is bounded.
"""
import argparse
import json
import pathlib
import sys

from celery.exceptions import TimeoutError

from bench_app import add

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "lib"))
from celery_shaped import run_e2e, run_roundtrips  # noqa: E402  (tools/bench/lib)




def wait_for_worker(timeout_s):
    """The first task waits in the queue until the worker has started consuming."""
    add.delay(0, 0).get(timeout=timeout_s)






def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=5000, help="tasks in the end-to-end run")
    parser.add_argument("--roundtrips", type=int, default=1000, help="single round trips to time")
    parser.add_argument("--warmup", type=int, default=20, help="round trips before measuring")
    parser.add_argument("--worker-timeout", type=float, default=60.0, help="seconds to wait for the worker")
    parser.add_argument("--timeout", type=float, default=240.0,
                        help="seconds the e2e run may take, and again the round trips")
    args = parser.parse_args()

    wait_for_worker(args.worker_timeout)
    for i in range(args.warmup):
        add.delay(i, i).get(timeout=10)
    report = {
        "tool": "celery",
        "e2e": run_e2e(add, args.tasks, args.timeout, TimeoutError),
        "roundtrip": run_roundtrips(add, args.roundtrips, args.timeout),
    }
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
