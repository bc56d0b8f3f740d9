"""brokerd app for tools/bench/compare-peers.sh: one no-op task, add(x, y), the same task
as tools/bench/celery/bench_app.py runs on Celery + Redis (there it is bench_app.add,
here bench_tasks.add: the module's name, as Celery names tasks).

Run by the Python client's prefork worker (``python3 -m brokerd worker -A bench_tasks``)
and imported by run_python_bench.py. Everything is left at the client's defaults; the
broker address comes from BROKERD_SERVER because compare-peers.sh starts a private
brokerd on a free port.
"""
import brokerd

app = brokerd.App("bench_tasks")  # server: $BROKERD_SERVER


@app.task
def add(x, y):
    return x + y
