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
import statistics
import sys
import time

from celery.exceptions import TimeoutError

from bench_app import add


def percentile(sorted_values, fraction):
    if not sorted_values:
        return None
    index = min(len(sorted_values) - 1, int(round(fraction * (len(sorted_values) - 1))))
    return sorted_values[index]


def wait_for_worker(timeout_s):
    """The first task waits in the queue until the worker has started consuming."""
    add.delay(0, 0).get(timeout=timeout_s)


def run_e2e(tasks, timeout_s):
    """Sends every task, then collects every result; a run past timeout_s stops early
    and reports the rate of what finished, with "completed": false."""
    started = time.perf_counter()
    deadline = started + timeout_s
    results = []
    for i in range(tasks):
        if time.perf_counter() >= deadline:
            break
        results.append(add.delay(i, i))
    enqueued = time.perf_counter()
    done = wrong = 0
    finished = enqueued
    for i, result in enumerate(results):
        try:
            value = result.get(timeout=max(0.01, deadline - time.perf_counter()))
        except TimeoutError:
            break
        finished = time.perf_counter()
        done += 1
        wrong += value != 2 * i
    return {
        "tasks": done,
        "tasks_requested": tasks,
        "completed": done == tasks,
        "enqueue_completed": len(results) == tasks,
        "enqueue_tasks_per_s": len(results) / (enqueued - started),
        "seconds": finished - started,
        "tasks_per_s": done / (finished - started),
        "wrong_results": wrong,
    }


def run_roundtrips(count, timeout_s):
    """count single round trips, or as many as fit in timeout_s."""
    deadline = time.perf_counter() + timeout_s
    latencies_ms = []
    for i in range(count):
        if time.perf_counter() >= deadline:
            break
        started = time.perf_counter()
        add.delay(i, 1).get(timeout=10)
        latencies_ms.append((time.perf_counter() - started) * 1000.0)
    latencies_ms.sort()
    return {
        "count": len(latencies_ms),
        "completed": len(latencies_ms) == count,
        "p50_ms": percentile(latencies_ms, 0.50),
        "p99_ms": percentile(latencies_ms, 0.99),
        "mean_ms": statistics.fmean(latencies_ms) if latencies_ms else None,
        "max_ms": latencies_ms[-1] if latencies_ms else None,
    }


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
        "e2e": run_e2e(args.tasks, args.timeout),
        "roundtrip": run_roundtrips(args.roundtrips, args.timeout),
    }
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
