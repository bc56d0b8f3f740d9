"""Running one delivered task and turning what happened into an outcome.

Shared by both pools: a prefork child and a pool thread call :func:`run_job` the same way.
Jobs and outcomes are plain tuples, so they cross a process pipe cheaply.

Outcomes:
- ``("success", result_json, runtime_s)``
- ``("failure", type, message, traceback, final, runtime_s, max_retries)``: ``final``
  means no retry whatever the task's retry policy (an exception outside
  ``autoretry_for``); ``max_retries`` is the worker's limit (None: the broker's policy)
- ``("retry", countdown_ms, type, message, traceback, runtime_s, max_retries)``:
  ``self.retry()``, or an exception in ``autoretry_for`` (countdown from the task's
  ``retry_backoff`` options, as Celery computes it)

The worker's task definition sets the retry limit and the automatic retries' backoff, as
in Celery: they go to the broker with the outcome and replace what the producer enqueued.
"""
from __future__ import annotations

import contextlib
import json
import random
import time
import traceback as traceback_module
from typing import NamedTuple

from brokerd.app import App, Context
from brokerd.errors import Retry
from brokerd.task_spec import dumps


class Job(NamedTuple):
    lease_id: int
    task_id: str
    name: str
    args_json: str
    kwargs_json: str
    queue: str
    attempt: int
    retries: int
    max_retries: int
    priority: int
    hostname: str
    # From the producer (apply_async), 0 = none: override the task's and the worker's.
    time_limit_ms: int = 0
    soft_time_limit_ms: int = 0


def run_job(app: App, job: Job, around_body=contextlib.nullcontext) -> tuple:
    """Runs the job; ``around_body()`` is a context entered just around the task's own
    code (the prefork child arms its soft-time-limit signal there and nowhere else)."""
    task = app.tasks.get(job.name)
    if task is None:
        return ("failure", "NotRegistered",
                f"Received unregistered task of type {job.name!r}: this worker has "
                f"{', '.join(sorted(app.tasks)) or 'no tasks'}", "", True, 0.0, None)
    try:
        args = json.loads(job.args_json or "[]")
        kwargs = json.loads(job.kwargs_json or "{}")
    except ValueError as e:  # the broker validates JSON; this is a safety net
        return ("failure", "DecodeError", f"arguments are not JSON: {e}", "", True, 0.0, None)
    context = Context(id=job.task_id, name=job.name, args=args, kwargs=kwargs, queue=job.queue,
                      retries=job.retries, attempt=job.attempt, max_retries=job.max_retries,
                      priority=job.priority, hostname=job.hostname, lease_id=job.lease_id,
                      timelimit=(job.time_limit_ms / 1000 if job.time_limit_ms > 0 else None,
                                 job.soft_time_limit_ms / 1000 if job.soft_time_limit_ms > 0 else None))
    started = time.perf_counter()
    try:
        with around_body():
            value = task._run_in_worker(context, args, kwargs)
    except Retry as retry:
        runtime = time.perf_counter() - started
        exc = retry.exc
        # 0 on the wire means "the policy's backoff"; a countdown of 0 means "now" (1 ms).
        countdown_ms = 0 if retry.countdown is None else max(1, int(retry.countdown * 1000))
        if exc is None:
            return ("retry", countdown_ms, "Retry", "retry requested", "", runtime, retry.max_retries)
        return ("retry", countdown_ms, type(exc).__name__, str(exc), _format(exc), runtime, retry.max_retries)
    except BaseException as exc:  # noqa: BLE001 - even SystemExit: a task's failure is data, never the worker's end
        runtime = time.perf_counter() - started
        if task.autoretry_for and isinstance(exc, task.autoretry_for):
            return ("retry", autoretry_countdown_ms(task, job.retries), type(exc).__name__, str(exc), _format(exc),
                    runtime, task.max_retries)
        return ("failure", type(exc).__name__, str(exc), _format(exc), True, runtime, task.max_retries)
    runtime = time.perf_counter() - started
    try:
        return ("success", dumps(value, f"the result of {job.name}"), runtime)
    except TypeError as e:
        return ("failure", "EncodeError", str(e), "", True, runtime, None)


def autoretry_countdown_ms(task, retries: int) -> int:
    """Celery's delay before an automatic retry, from the task's own options: with
    ``retry_backoff`` (True = 1 s, or a number of seconds) ``base * 2**retries`` capped at
    ``retry_backoff_max`` (600 s), drawn from [0, that] when ``retry_jitter`` (the
    default); without it ``default_retry_delay``. At least 1 ms (0 on the wire would mean
    the broker's policy)."""
    if task.retry_backoff:
        base = 1.0 if task.retry_backoff is True else float(task.retry_backoff)
        cap = 600.0 if task.retry_backoff_max is None else float(task.retry_backoff_max)
        delay = min(cap, base * (2 ** retries))
        if task.retry_jitter is not False:
            delay = random.uniform(0, delay)
    else:
        delay = float(task.default_retry_delay)
    return max(1, int(delay * 1000))


def _format(exc: BaseException) -> str:
    return "".join(traceback_module.format_exception(type(exc), exc, exc.__traceback__))
