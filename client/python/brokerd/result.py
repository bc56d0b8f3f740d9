"""``AsyncResult``: a task's state and result by id, read from the broker.

Every property that needs the broker asks it (``state``, ``result``, ``ready()``...);
once the task is finished its record is kept, so further reads are free. ``get()`` waits
by server push (one ``WaitResult``), never by polling.

Each call that talks to the broker has an asyncio twin named with an ``a`` prefix
(``astate()``, ``aget()``, ``arevoke()``, ``atask_info()``, ``aready()``), for ``async def``
code such as FastAPI endpoints: they never block the event loop.
"""
from __future__ import annotations

import dataclasses
import datetime
import json
import time
from typing import TYPE_CHECKING, Any

from brokerd import states
from brokerd._wire import pb
from brokerd.errors import TaskFailed, TaskRevokedError, TimeoutError

if TYPE_CHECKING:
    from brokerd.app import App

# The broker holds one WaitResult for at most an hour (protocol.md §5): longer waits
# are made of several.
_MAX_WAIT_MS = 3_600_000


@dataclasses.dataclass(frozen=True)
class TaskError:
    type: str
    message: str
    traceback: str = ""


@dataclasses.dataclass(frozen=True)
class TaskInfo:
    """A task's record as the broker reports it (``TaskRecord`` in docs/protocol.md).
    Times are Unix milliseconds (0 = not yet); ``datetime`` helpers convert them."""

    id: str
    name: str
    queue: str
    state: str
    args: list
    kwargs: dict
    priority: int
    attempts: int
    retries: int
    max_retries: int
    worker: str
    created_ms: int
    started_ms: int
    finished_ms: int
    due_ms: int
    expires_ms: int
    lease_deadline_ms: int
    result_json: str
    error: TaskError | None
    history: tuple[tuple[str, int], ...]
    # Leases lost in a row since the last outcome, and how many end the task
    # (0 = the broker's max_deliveries setting): docs/protocol.md §7.
    lost_leases: int = 0
    max_deliveries: int = 0

    @property
    def result(self) -> Any:
        """The decoded result (SUCCESS), else None."""
        return json.loads(self.result_json) if self.state == states.SUCCESS and self.result_json else None

    @property
    def ready(self) -> bool:
        return self.state in states.READY_STATES

    @staticmethod
    def when(ms: int) -> datetime.datetime | None:
        return datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc) if ms else None

    @classmethod
    def from_record(cls, record: pb.TaskRecord) -> "TaskInfo":
        error = None
        if record.HasField("error") and (record.error.type or record.error.message):
            error = TaskError(record.error.type, record.error.message, record.error.traceback)
        return cls(
            id=record.id, name=record.name, queue=record.queue, state=states.state_name(record.state),
            args=json.loads(record.args_json or "[]"), kwargs=json.loads(record.kwargs_json or "{}"),
            priority=record.priority, attempts=record.attempts, retries=record.retries,
            max_retries=record.retry.max_retries, worker=record.worker, created_ms=record.created_ms,
            started_ms=record.started_ms, finished_ms=record.finished_ms, due_ms=record.due_ms,
            expires_ms=record.expires_ms, lease_deadline_ms=record.lease_deadline_ms,
            result_json=record.result_json, error=error,
            history=tuple((states.state_name(t.state), t.at_ms) for t in record.history),
            lost_leases=record.lost_leases, max_deliveries=record.max_deliveries,
        )


class AsyncResult:
    """A handle on the task ``id``. ``AsyncResult(id, app=app)`` or ``app.AsyncResult(id)``."""

    def __init__(self, id: str, app: "App | None" = None):
        if app is None:
            from brokerd.app import default_app
            app = default_app()
        self.id = id
        self.app = app
        self._final: TaskInfo | None = None

    def __repr__(self) -> str:
        return f"<AsyncResult: {self.id}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AsyncResult) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)

    # ---- reading -----------------------------------------------------------------------

    def task_info(self) -> TaskInfo:
        """The task's whole record. Raises ``TaskNotFound`` for an id the broker does not know."""
        if self._final is not None:
            return self._final
        return self._keep(self.app._client.call(_get_task(self.id)).task_info.task)

    async def atask_info(self) -> TaskInfo:
        if self._final is not None:
            return self._final
        return self._keep((await self.app._client.acall(_get_task(self.id))).task_info.task)

    @property
    def state(self) -> str:
        """QUEUED, SCHEDULED, STARTED, RETRY, SUCCESS, FAILURE or REVOKED; an id the broker
        never saw (or whose result expired) raises ``TaskNotFound``."""
        return self.task_info().state

    status = state

    async def astate(self) -> str:
        return (await self.atask_info()).state

    def ready(self) -> bool:
        return self.state in states.READY_STATES

    async def aready(self) -> bool:
        return (await self.astate()) in states.READY_STATES

    def successful(self) -> bool:
        return self.state == states.SUCCESS

    def failed(self) -> bool:
        return self.state == states.FAILURE

    @property
    def result(self) -> Any:
        """The return value (SUCCESS), the error as a ``TaskFailed`` (FAILURE, REVOKED),
        or None while the task has not finished."""
        return _outcome(self.task_info(), propagate=False)

    info = result  # Celery's name for the same thing

    @property
    def traceback(self) -> str | None:
        """The worker-side traceback of a failed task, else None."""
        info = self.task_info()
        return info.error.traceback if info.error is not None and info.state == states.FAILURE else None

    @property
    def date_done(self) -> datetime.datetime | None:
        return TaskInfo.when(self.task_info().finished_ms)

    # ---- waiting -----------------------------------------------------------------------

    def get(self, timeout: float | None = None, propagate: bool = True, interval: float | None = None) -> Any:
        """Waits until the task finishes and returns its result. A FAILURE raises
        ``TaskFailed`` (type, message, traceback from the worker) and REVOKED raises
        ``TaskRevokedError``, unless ``propagate=False``, which returns the error instead.
        Raises ``brokerd.TimeoutError`` (a ``TimeoutError``) when ``timeout`` seconds pass
        first, and ``TaskNotFound`` for an unknown id. ``interval`` is accepted for
        Celery compatibility and ignored: the broker pushes the result."""
        if self._final is not None:
            return _outcome(self._final, propagate)
        plan = _WaitPlan(self.id, timeout)
        while True:
            try:
                reply = self.app._client.call(plan.request(), timeout=plan.reply_bound_s())
            except TimeoutError:
                plan.timed_out()
                continue
            return _outcome(self._keep(reply.task_info.task), propagate)

    wait = get

    async def aget(self, timeout: float | None = None, propagate: bool = True) -> Any:
        if self._final is not None:
            return _outcome(self._final, propagate)
        plan = _WaitPlan(self.id, timeout)
        while True:
            try:
                reply = await self.app._client.acall(plan.request())
            except TimeoutError:
                plan.timed_out()
                continue
            return _outcome(self._keep(reply.task_info.task), propagate)

    # ---- steering ------------------------------------------------------------------------

    def revoke(self) -> str:
        """Cancels the task if it has not finished; returns its state afterwards (REVOKED,
        or the final state it already had). A running task's worker is told to drop it."""
        return states.state_name(self.app._client.call(_revoke(self.id)).revoke_ok.state)

    async def arevoke(self) -> str:
        return states.state_name((await self.app._client.acall(_revoke(self.id))).revoke_ok.state)

    def _keep(self, record: pb.TaskRecord) -> TaskInfo:
        info = TaskInfo.from_record(record)
        if info.ready:
            self._final = info
        return info


class _WaitPlan:
    """The WaitResult requests of one get(): each as long as the broker allows (an hour)
    or what is left of ``timeout``; after a TIMEOUT, the next, until the deadline."""

    def __init__(self, task_id: str, timeout: float | None):
        self._task_id = task_id
        self._timeout = timeout
        self._deadline = None if timeout is None else time.monotonic() + timeout
        self._wait_ms = _MAX_WAIT_MS

    def request(self) -> pb.Envelope:
        if self._deadline is not None:
            remaining = self._deadline - time.monotonic()
            self._wait_ms = max(1, min(_MAX_WAIT_MS, int(remaining * 1000)))
        else:
            self._wait_ms = _MAX_WAIT_MS
        return _wait_result(self._task_id, self._wait_ms)

    def reply_bound_s(self) -> float:
        """How long the client waits for the reply: the broker's wait and a margin."""
        return self._wait_ms / 1000 + 30

    def timed_out(self) -> None:
        """After a TIMEOUT: raises once the caller's deadline has passed."""
        if self._deadline is not None and time.monotonic() >= self._deadline:
            raise TimeoutError(f"task {self._task_id} did not finish within {self._timeout} s") from None


def _outcome(info: TaskInfo, propagate: bool) -> Any:
    if info.state == states.SUCCESS:
        return info.result
    if info.state in (states.FAILURE, states.REVOKED):
        error = info.error or TaskError("TaskRevokedError" if info.state == states.REVOKED else "Error", "")
        cls = TaskRevokedError if info.state == states.REVOKED else TaskFailed
        failure = cls(info.id, error.type, error.message, error.traceback, info.state)
        if propagate:
            raise failure
        return failure
    return None


def _get_task(task_id: str) -> pb.Envelope:
    envelope = pb.Envelope()
    envelope.get_task.id = task_id
    return envelope


def _wait_result(task_id: str, timeout_ms: int) -> pb.Envelope:
    envelope = pb.Envelope()
    envelope.wait_result.id = task_id
    envelope.wait_result.timeout_ms = timeout_ms
    return envelope


def _revoke(task_id: str) -> pb.Envelope:
    envelope = pb.Envelope()
    envelope.revoke.id = task_id
    return envelope
