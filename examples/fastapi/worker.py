"""The tasks of the FastAPI example, and the app a worker serves.

This is the ``worker.py`` of the "Asynchronous Tasks with FastAPI and Celery" tutorial
(testdriven.io), with brokerd as both the broker and the result store instead of Redis.
The tutorial writes ``celery = Celery(__name__)`` and sets ``broker_url`` and
``result_backend``; here one address does both, and ``brokerd.App`` reads it from
``$BROKERD_SERVER`` (default ``127.0.0.1:7411``) by itself.

Run a worker beside this file::

    python3 -m brokerd worker -A worker --concurrency 2

``TASK_SLEEP_SCALE`` (default 1.0) shrinks the tutorial's sleeps and retry delays, so the
tests can run the same tasks in a fraction of a second (they use 0.01).
"""
import os
import time

import brokerd

# The tutorial's name for the app object; `brokerd.Celery` is an alias of `brokerd.App`.
celery = brokerd.App(__name__)


def sleep_scale() -> float:
    """Read at each call, so a test (or an operator) can change it without a re-import."""
    return float(os.environ.get("TASK_SLEEP_SCALE", "1.0"))


@celery.task(name="create_task")
def create_task(task_type):
    """The tutorial's task: sleeps 10, 20 or 30 s (type 1, 2, 3) and returns True."""
    time.sleep(int(task_type) * 10 * sleep_scale())
    return True


@celery.task(name="add")
def add(x, y):
    return x + y


@celery.task(name="divide")
def divide(x, y):
    """``divide(1, 0)`` ends FAILURE with ZeroDivisionError: division by zero."""
    return x / y


@celery.task(name="generate_report")
def generate_report(numbers, title="report"):
    """A small report on a list of numbers (JSON in, JSON out)."""
    values = [float(n) for n in numbers]
    count = len(values)
    total = sum(values)
    return {
        "title": title,
        "count": count,
        "sum": total,
        "mean": total / count if count else None,
        "min": min(values) if values else None,
        "max": max(values) if values else None,
    }


class UpstreamUnavailable(ConnectionError):
    """What a flaky upstream service would raise; used by the retrying tasks below."""


def _flaky_upstream(attempt: int, failures: int, url: str) -> dict:
    """Fails attempts 1..failures, then answers."""
    if attempt <= failures:
        raise UpstreamUnavailable(f"{url} unavailable (attempt {attempt} of {failures} failing)")
    return {"url": url, "attempts": attempt, "body": "ok"}


@celery.task(name="fetch_with_retry", bind=True, max_retries=3)
def fetch_with_retry(self, failures, url="https://example.invalid/data"):
    """Retries by hand with exponential backoff, as in Celery: 1, 2, 4 s (times the scale)
    between attempts. The broker holds the task during the countdown (state RETRY, QUEUED
    again when it is due), so no worker slot waits. With more than ``max_retries`` failures the task
    ends FAILURE with the last error."""
    try:
        return _flaky_upstream(self.request.retries + 1, int(failures), url)
    except UpstreamUnavailable as e:
        raise self.retry(exc=e, countdown=2 ** self.request.retries * sleep_scale())


# The same with automatic retries: an exception in `autoretry_for` is retried by the
# broker after retry_backoff * 2^retries seconds (capped by retry_backoff_max, with jitter
# unless retry_jitter=False), as Celery computes it. The worker computes the delay from
# its own definition of the task, so the scale is the worker's.
@celery.task(name="fetch_with_autoretry", bind=True, max_retries=3, autoretry_for=(UpstreamUnavailable,),
             retry_backoff=1.0 * sleep_scale(), retry_backoff_max=8.0 * sleep_scale(), retry_jitter=False)
def fetch_with_autoretry(self, failures, url="https://example.invalid/data"):
    return _flaky_upstream(self.request.retries + 1, int(failures), url)
