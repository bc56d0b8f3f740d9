"""brokerd for Python: a Celery-shaped client and worker for the brokerd task broker.

    import brokerd
    app = brokerd.App()

    @app.task
    def add(x, y):
        return x + y

    add.delay(4, 4).get(timeout=10)   # 8

Run workers with ``python3 -m brokerd worker -A yourmodule``. See docs/python.md.
"""
from brokerd import states
from brokerd.app import App, Context, Signature, Task
from brokerd.errors import (BrokerError, BrokerUnavailable, ConnectionLost, InvalidArgument, NotRegistered,
                            PermissionDenied, ResourceExhausted, Retry, SoftTimeLimitExceeded, TaskFailed,
                            TaskNotFound, TaskRevokedError, TimeoutError)
from brokerd.result import AsyncResult, TaskError, TaskInfo
from brokerd.settings import Security, TlsOptions
from brokerd.version import __version__

Celery = App  # so `from brokerd import Celery` ports tutorial code unchanged in shape

__all__ = [
    "App", "AsyncResult", "BrokerError", "BrokerUnavailable", "Celery", "ConnectionLost", "Context",
    "InvalidArgument", "NotRegistered", "PermissionDenied", "ResourceExhausted", "Retry", "Security",
    "Signature", "SoftTimeLimitExceeded", "Task", "TaskError", "TaskFailed", "TaskInfo", "TaskNotFound", "TaskRevokedError",
    "TimeoutError", "TlsOptions", "__version__", "states",
]
