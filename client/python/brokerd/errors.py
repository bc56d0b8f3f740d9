"""Exceptions raised by the brokerd package.

Every error the broker reports carries its stable wire code (``BrokerError.code``, a name
from docs/protocol.md §12); the common ones have their own class so callers can catch
them by type.
"""
import builtins


class BrokerError(Exception):
    """The broker refused a request, or could not be reached."""

    code = "UNKNOWN"

    def __init__(self, message: str, code: str | None = None):
        super().__init__(message)
        if code is not None:
            self.code = code


class ConnectionLost(BrokerError):
    """The connection to the broker broke before the reply arrived."""

    code = "CONNECTION_LOST"


class BrokerUnavailable(BrokerError):
    """No connection to the broker could be made within the connect timeout."""

    code = "UNAVAILABLE"


class InvalidArgument(BrokerError, ValueError):
    code = "INVALID_ARGUMENT"


class PermissionDenied(BrokerError):
    code = "PERMISSION_DENIED"


class ResourceExhausted(BrokerError):
    code = "RESOURCE_EXHAUSTED"


class StaleLease(BrokerError):
    code = "STALE_LEASE"


class TaskNotFound(BrokerError, LookupError):
    """The broker has no task with this id: it never saw it, or its record expired.

    Celery answers PENDING for such an id; brokerd says so instead.
    """

    code = "NOT_FOUND"


class TimeoutError(BrokerError, builtins.TimeoutError):
    """The task did not finish within the wait; it goes on and can be waited for again.

    A subclass of the built-in ``TimeoutError``, so ``except TimeoutError`` catches it.
    """

    code = "TIMEOUT"


class TaskFailed(Exception):
    """A task ended FAILURE (or REVOKED): raised by ``AsyncResult.get()``.

    ``type``, ``message`` and ``traceback`` are the task's error as the worker reported it,
    e.g. ``ZeroDivisionError``, ``division by zero`` and the worker-side traceback text.
    """

    def __init__(self, task_id: str, type: str, message: str, traceback: str = "", state: str = "FAILURE"):
        super().__init__(f"{type}: {message}" if message else type)
        self.task_id = task_id
        self.type = type
        self.message = message
        self.traceback = traceback
        self.state = state

    def __reduce__(self):
        return (self.__class__, (self.task_id, self.type, self.message, self.traceback, self.state))


class TaskRevokedError(TaskFailed):
    """The task was revoked by an operator before it finished."""


class SoftTimeLimitExceeded(Exception):
    """Raised inside a task (prefork pool) when it passes its ``soft_time_limit``: clean up
    and return, or let it propagate (the task then fails with this type)."""


class NotRegistered(KeyError):
    """The worker has no task by this name (the task ends FAILURE ``NotRegistered``)."""


class Retry(Exception):
    """Raised by ``self.retry()`` inside a bound task: asks the broker for a retry.

    ``raise self.retry(exc=e, countdown=5)``: the task goes to RETRY and is delivered
    again after the countdown (the task's backoff when None). When the task has no
    retries left it ends FAILURE with ``exc``'s type and message.
    """

    def __init__(self, exc: BaseException | None = None, countdown: float | None = None,
                 max_retries: int | None = None):
        super().__init__(f"Retry in {countdown}s: {exc!r}" if countdown is not None else f"Retry: {exc!r}")
        self.exc = exc
        self.countdown = countdown
        self.max_retries = max_retries


_CODE_CLASSES = {
    cls.code: cls
    for cls in (InvalidArgument, PermissionDenied, ResourceExhausted, StaleLease, TaskNotFound, TimeoutError)
}


def error_from_wire(code_name: str, message: str) -> BrokerError:
    """The exception for an ``Error{code, message}`` frame."""
    cls = _CODE_CLASSES.get(code_name, BrokerError)
    if cls is BrokerError:
        return BrokerError(message, code_name)
    return cls(message)
