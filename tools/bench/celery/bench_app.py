"""Celery app for tools/bench/compare-peers.sh: one no-op task, add(x, y).

Redis is both broker and result backend, the usual Celery + Redis set-up that brokerd
replaces; everything else is left at Celery's defaults so the figures are those of a
stock deployment. The Redis URL comes from BENCH_REDIS_URL because compare-peers.sh
starts its own redis-server on a free port.
"""
import os

from celery import Celery

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")

app = Celery("bench_app", broker=REDIS_URL, backend=REDIS_URL)


@app.task
def add(x, y):
    return x + y
