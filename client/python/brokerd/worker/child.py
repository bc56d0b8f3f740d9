"""The main function of a prefork pool process: run jobs from the pipe until it closes.

A child ignores SIGINT and SIGTERM (the parent decides about shutdown: it closes the
pipe for a warm stop, kills for a cold one) and dies with the worker's fork server, so a
worker killed with SIGKILL leaves no process behind running a task the broker has already
given to someone else.
"""
from __future__ import annotations

import contextlib
import ctypes
import signal

from brokerd.errors import SoftTimeLimitExceeded
from brokerd.worker.execution import run_job
from brokerd.worker.loader import load_app
from brokerd.worker.logs import setup_logging

_PR_SET_PDEATHSIG = 1
SOFT_LIMIT_SIGNAL = signal.SIGUSR1


def _die_with_parent() -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the pipe's EOF still ends the loop
        pass


class _SoftLimit:
    """SIGUSR1 from the worker: the running task passed its soft time limit. Raised in the
    task's own code only; ignored anywhere else (between tasks, or while the worker
    encodes a result)."""

    running = False

    @classmethod
    def on_signal(cls, signum, frame) -> None:
        if cls.running:
            raise SoftTimeLimitExceeded("soft time limit exceeded")

    @classmethod
    @contextlib.contextmanager
    def armed(cls):
        cls.running = True
        try:
            yield
        finally:
            cls.running = False


def child_main(app_spec: str, connection, loglevel: str, logfile: str | None) -> None:
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(SOFT_LIMIT_SIGNAL, _SoftLimit.on_signal)
    setup_logging(loglevel, logfile)
    app = load_app(app_spec)
    while True:
        try:
            job = connection.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        try:
            outcome = run_job(app, job, _SoftLimit.armed)
        except BaseException as e:  # noqa: BLE001 - run_job catches the task's; this is a last guard
            outcome = ("failure", type(e).__name__, str(e), "", True, 0.0, None)
        connection.send(outcome)

