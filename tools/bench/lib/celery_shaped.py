"""The measurements both Python drivers make, for any Celery-shaped client: Celery's own
(tools/bench/celery/run_celery_e2e.py) and brokerd's Python package
(tools/bench/python/run_python_bench.py). ``add`` is a task with ``delay(x, y)``
returning a result with ``get(timeout=)``; ``timeout_error`` is what that ``get`` raises
when its timeout passes. Every run stops at its own time limit and says so with
"completed": false.
"""
import statistics
import time


def percentile(sorted_values, fraction):
    if not sorted_values:
        return None
    index = min(len(sorted_values) - 1, int(round(fraction * (len(sorted_values) - 1))))
    return sorted_values[index]


def rate(count, seconds):
    return count / seconds if seconds > 0 else None


def run_e2e(add, tasks, timeout_s, timeout_error):
    """Every ``add.delay(i, i)`` one at a time, then every ``.get()``; the clock stops when
    the last result is in. The enqueue-only rate is the time of the delay loop."""
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
        except timeout_error:
            break
        finished = time.perf_counter()
        done += 1
        wrong += value != 2 * i
    return {
        "tasks": done,
        "tasks_requested": tasks,
        "completed": done == tasks,
        "enqueue_completed": len(results) == tasks,
        "enqueue_tasks_per_s": rate(len(results), enqueued - started),
        "seconds": finished - started,
        "tasks_per_s": rate(done, finished - started),
        "wrong_results": wrong,
    }


def run_roundtrips(add, count, timeout_s):
    """``count`` single ``add.delay().get()`` round trips, or as many as fit in timeout_s."""
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
