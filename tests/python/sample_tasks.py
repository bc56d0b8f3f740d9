"""Tasks the Python tests run in real workers (``python3 -m brokerd worker -A sample_tasks``).

Tests send them by name (``app.send_task("sample_tasks.add", ...)``) from an app pointed at
their own broker. Tasks that must be seen running at once meet through files, so no test
depends on timing.
"""
import os
import pathlib
import signal
import time

import brokerd

app = brokerd.App("sample_tasks")


@app.task
def add(x, y):
    return x + y


@app.task
def divide(x, y):
    return x / y


@app.task
def unserialisable():
    return {1, 2, 3}


@app.task(bind=True, max_retries=3)
def flaky(self, succeed_on_attempt):
    """Asks for a retry until the given attempt, then returns what it saw."""
    if self.request.retries + 1 < succeed_on_attempt:
        raise self.retry(exc=ConnectionError(f"attempt {self.request.retries + 1} failed"), countdown=0.05)
    return {"retries": self.request.retries, "id": self.request.id}


@app.task(bind=True, max_retries=2)
def always_retry(self):
    raise self.retry(exc=ValueError("still broken"), countdown=0.05)


@app.task(bind=True)
def crash_once(self, how):
    """Kills its own pool process on the first attempt; the second attempt succeeds."""
    if self.request.attempt == 1:
        if how == "segfault":
            os.kill(os.getpid(), signal.SIGSEGV)
        os._exit(3)
    return f"survived attempt {self.request.attempt}"


@app.task
def rendezvous(directory, me, other, timeout=20):
    """True if ``other`` arrives while ``me`` waits: proof that both ran at once."""
    folder = pathlib.Path(directory)
    (folder / me).touch()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (folder / other).exists():
            return True
        time.sleep(0.01)
    return False


@app.task
def block(directory, name, timeout=60):
    """Marks itself started, then waits for ``name.release`` to appear."""
    folder = pathlib.Path(directory)
    with open(folder / f"{name}.started", "a") as f:
        f.write(f"{os.getpid()}\n")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (folder / f"{name}.release").exists():
            return name
        time.sleep(0.01)
    raise TimeoutError(f"{name} was never released")


@app.task
def record(path, tag):
    """Appends ``tag`` to the file: the order tasks ran in."""
    with open(path, "a") as f:
        f.write(f"{tag}\n")
    return tag


@app.task
def sleep_then(seconds, value):
    time.sleep(seconds)
    return value


@app.task
def exits():
    raise SystemExit(3)


@app.task
def always_crash():
    os._exit(4)


@app.task(time_limit=1)
def hangs(seconds=60):
    time.sleep(seconds)
    return "woke up"


@app.task(soft_time_limit=0.5, time_limit=30)
def cleans_up(seconds=30):
    try:
        time.sleep(seconds)
    except brokerd.SoftTimeLimitExceeded:
        return "cleaned up"
    return "slept"


@app.task
def interruptible(seconds=60):
    """No limits of its own: a soft limit can only come from the producer or the worker."""
    try:
        time.sleep(seconds)
    except brokerd.SoftTimeLimitExceeded:
        return "interrupted"
    return "slept"
