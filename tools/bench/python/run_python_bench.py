"""Measures brokerd's Python client from the producer's side, for tools/bench/compare-peers.sh.

The same measurements as tools/bench/celery/run_celery_e2e.py, on brokerd, plus the
forms the Celery API does not have. Expects a worker of bench_tasks already started
against the same brokerd (python3 -m brokerd worker -A bench_tasks). Runs, in order:
  warm-up       a few add() round trips, which also wait for the worker to come up;
  e2e           --tasks add.delay(i, i) calls in a row, one at a time (the enqueue-only
                rate is their time), then .get() of every result; the clock stops when
                the last result is in;
  roundtrip     --roundtrips single add.delay(...).get() calls, one at a time (p50, p99);
  enqueue_pipelined
                --pipelined-tasks `await add.aapply_async((i, i), queue=Q)`, at most
                --window in flight: asyncio.gather of --window coroutines, each sending
                the next task when its last one is confirmed; into a queue no worker
                reads (so only the producer and the broker run), then that queue is
                purged;
  enqueue_pipelined_semaphore
                the same, written as asyncio.gather of every call, each inside
                `async with asyncio.Semaphore(--window)` (costlier in the producer);
  enqueue_send_many
                the same count through app.send_many() (blocking code: each task its
                own request, --window in flight), into the same queue, purged;
  enqueue_batched
                the same count through app.send_batch() of --batch tasks each, one
                batch at a time (batched, not pipelined), into the same queue, purged;
  e2e_pipelined --tasks `await add.adelay(i, i)`, --window in flight as above (the
                enqueue rate is their time, with the worker consuming), then
                `await result.aget()` of every result, --window at a time; the clock
                stops when the last result is in.
Prints one JSON object on stdout. Each part stops at --timeout and reports what it did
with "completed": false, so the run is bounded. The broker is --server, else
$BROKERD_SERVER, else 127.0.0.1:7411.
"""
import argparse
import asyncio
import json
import os
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "lib"))
from celery_shaped import rate, run_e2e, run_roundtrips  # noqa: E402  (tools/bench/lib)

IDLE_QUEUE = "bench-enqueue-only"










async def in_lanes(count, window, deadline, step):
    """await step(i) for i in range(count), `window` at a time: one asyncio.gather of
    `window` coroutines ("lanes"), each awaiting step() for the next i in turn, none
    starting after `deadline`. Returns the results (None where not run).

    Lanes rather than gathering `count` coroutines behind an asyncio.Semaphore(window):
    Python 3.11's Semaphore scans its queue of waiters on every release, which with
    thousands of waiters doubled the producer's CPU per task (see run_semaphore)."""
    indexes = iter(range(count))
    results = [None] * count

    async def lane():
        for i in indexes:
            if time.perf_counter() >= deadline:
                return
            results[i] = await step(i)

    await asyncio.gather(*(lane() for _ in range(min(window, count))))
    return results


async def run_semaphore(count, window, deadline, step):
    """The same as in_lanes, written as one gathers `count` coroutines, each inside
    `async with asyncio.Semaphore(window)`: measured too, as the idiom users write."""
    semaphore = asyncio.Semaphore(window)
    results = [None] * count

    async def one(i):
        async with semaphore:
            if time.perf_counter() < deadline:
                results[i] = await step(i)

    await asyncio.gather(*(one(i) for i in range(count)))
    return results


async def run_enqueue_pipelined(add, tasks, window, timeout_s, gather=in_lanes):
    started = time.perf_counter()
    results = await gather(tasks, window, started + timeout_s,
                           lambda i: add.aapply_async((i, i), queue=IDLE_QUEUE))
    seconds = time.perf_counter() - started
    return enqueue_report(sum(r is not None for r in results), tasks, seconds, window=window)


def enqueue_report(sent, tasks, seconds, **shape):
    """The JSON of an enqueue-only run into IDLE_QUEUE."""
    return {"tasks": sent, "tasks_requested": tasks, "completed": sent == tasks, **shape, "queue": IDLE_QUEUE,
            "seconds": seconds, "tasks_per_s": rate(sent, seconds)}


def run_enqueue_send_many(app, add, tasks, window, timeout_s):
    """Blocking code's pipelining: app.send_many(), each task its own request, up to
    ``window`` in flight; sent in chunks so that the run stops near its timeout."""
    import brokerd
    started = time.perf_counter()
    deadline = started + timeout_s
    sent = 0
    chunk = 5000
    while sent < tasks and time.perf_counter() < deadline:
        size = min(chunk, tasks - sent)
        sent += len(app.send_many((brokerd.Signature(add, (i, i), options={"queue": IDLE_QUEUE})
                                   for i in range(sent, sent + size)), window=window))
    return enqueue_report(sent, tasks, time.perf_counter() - started, window=window)


def run_enqueue_batched(app, add, tasks, batch, timeout_s):
    import brokerd
    started = time.perf_counter()
    deadline = started + timeout_s
    sent = 0
    while sent < tasks and time.perf_counter() < deadline:
        size = min(batch, tasks - sent)
        signatures = [brokerd.Signature(add, (i, i), options={"queue": IDLE_QUEUE})
                      for i in range(sent, sent + size)]
        sent += len(app.send_batch(signatures))
    return enqueue_report(sent, tasks, time.perf_counter() - started, batch=batch)


async def run_e2e_pipelined(add, tasks, window, timeout_s):
    started = time.perf_counter()
    deadline = started + timeout_s
    results = await in_lanes(tasks, window, deadline, lambda i: add.adelay(i, i))
    enqueued = time.perf_counter()
    sent = [r for r in results if r is not None]
    state = {"done": 0, "wrong": 0, "finished": enqueued}

    async def collect(i):
        try:
            value = await sent[i].aget(timeout=max(0.01, deadline - time.perf_counter()))
        except TimeoutError:  # brokerd.TimeoutError is a TimeoutError
            return None
        state["finished"] = time.perf_counter()
        state["done"] += 1
        state["wrong"] += value != 2 * i
        return value

    await in_lanes(len(sent), window, deadline, collect)
    finished = state["finished"]
    return {
        "tasks": state["done"],
        "tasks_requested": tasks,
        "completed": state["done"] == tasks,
        "enqueue_completed": len(sent) == tasks,
        "window": window,
        "enqueue_tasks_per_s": rate(len(sent), enqueued - started),
        "seconds": finished - started,
        "tasks_per_s": rate(state["done"], finished - started),
        "wrong_results": state["wrong"],
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", default=None, help="HOST:PORT of brokerd (default: $BROKERD_SERVER)")
    parser.add_argument("--tasks", type=int, default=5000, help="tasks in each end-to-end run")
    parser.add_argument("--roundtrips", type=int, default=1000, help="single round trips to time")
    parser.add_argument("--pipelined-tasks", type=int, default=20000,
                        help="tasks in the pipelined and the batched enqueue-only runs")
    parser.add_argument("--window", type=int, default=1024, help="asyncio requests in flight at most")
    parser.add_argument("--batch", type=int, default=1000, help="tasks per send_batch() request")
    parser.add_argument("--warmup", type=int, default=20, help="round trips before measuring")
    parser.add_argument("--worker-timeout", type=float, default=60.0, help="seconds to wait for the worker")
    parser.add_argument("--timeout", type=float, default=240.0, help="seconds each part may take")
    args = parser.parse_args()
    if args.server:
        os.environ["BROKERD_SERVER"] = args.server  # read by bench_tasks' brokerd.App()

    import brokerd
    from bench_tasks import add, app

    add.delay(0, 0).get(timeout=args.worker_timeout)  # waits in the queue for the worker
    for i in range(args.warmup):
        add.delay(i, i).get(timeout=10)
    report = {
        "tool": "brokerd-python",
        "client_version": brokerd.__version__,
        "python": sys.version.split()[0],
        "server": app.address and str(app.address),
        "e2e": run_e2e(add, args.tasks, args.timeout, TimeoutError),  # brokerd.TimeoutError is one
        "roundtrip": run_roundtrips(add, args.roundtrips, args.timeout),
    }
    report["enqueue_pipelined"] = asyncio.run(
        run_enqueue_pipelined(add, args.pipelined_tasks, args.window, args.timeout))
    purged = app.control.purge(IDLE_QUEUE)
    report["enqueue_pipelined_semaphore"] = asyncio.run(
        run_enqueue_pipelined(add, args.pipelined_tasks, args.window, args.timeout, gather=run_semaphore))
    purged += app.control.purge(IDLE_QUEUE)
    report["enqueue_send_many"] = run_enqueue_send_many(app, add, args.pipelined_tasks, args.window, args.timeout)
    purged += app.control.purge(IDLE_QUEUE)
    report["enqueue_batched"] = run_enqueue_batched(app, add, args.pipelined_tasks, args.batch, args.timeout)
    purged += app.control.purge(IDLE_QUEUE)
    report["purged"] = purged
    report["e2e_pipelined"] = asyncio.run(run_e2e_pipelined(add, args.tasks, args.window, args.timeout))
    app.close()
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
