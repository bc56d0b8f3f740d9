"""The Celery-shaped application object: ``App``, its ``@app.task`` decorator, ``Task``.

    app = brokerd.App()                     # $BROKERD_SERVER, else 127.0.0.1:7411

    @app.task
    def add(x, y):
        return x + y

    add(4, 4)                               # runs here, like any function: 8
    result = add.delay(4, 4)                # enqueued on the broker, durably
    result.get(timeout=10)                  # 8, pushed by the broker when done

The app connects lazily, on its first request, and reconnects by itself; one app (and its
one connection) serves every thread and asyncio task of a process.
"""
from __future__ import annotations

import functools
import os
import socket
import sys
import threading
from typing import Any, Callable, Iterable, Mapping, Sequence

from brokerd._wire import pb
from brokerd.client import BrokerClient
from brokerd.errors import Retry
from brokerd.result import AsyncResult, TaskInfo
from brokerd.settings import TlsOptions, resolve_security, server_from_environment
from brokerd.task_spec import build_spec

# Celery's default: a task may be retried three times (``self.retry()``, autoretry_for).
DEFAULT_MAX_RETRIES = 3


class Context:
    """``self.request`` inside a bound task: what the worker knows about this run.
    Outside a worker (a direct call) ``id`` is None and ``called_directly`` is True."""

    def __init__(self, **fields: Any):
        self.id: str | None = None
        self.name: str | None = None
        self.args: list = []
        self.kwargs: dict = {}
        self.queue: str | None = None
        self.retries = 0
        self.attempt = 0
        self.max_retries: int | None = None
        self.priority = 0
        self.hostname: str | None = None
        self.lease_id = 0
        # (time_limit, soft_time_limit) in seconds as the producer gave them to
        # apply_async (None: not given), as Celery's request.timelimit.
        self.timelimit: tuple[float | None, float | None] = (None, None)
        self.__dict__.update(fields)

    @property
    def called_directly(self) -> bool:
        return self.id is None

    def __repr__(self) -> str:
        return f"<Context id={self.id} name={self.name} retries={self.retries}>"


class Signature:
    """A task with its arguments and options, to be sent later: ``add.s(2, 2)``."""

    def __init__(self, task: "Task", args: Sequence[Any] = (), kwargs: Mapping[str, Any] | None = None,
                 options: Mapping[str, Any] | None = None):
        self.task = task
        self.args = tuple(args)
        self.kwargs = dict(kwargs or {})
        self.options = dict(options or {})

    def set(self, **options: Any) -> "Signature":
        """Adds ``apply_async`` options to this signature (as Celery's ``Signature.set``):
        ``app.send_batch([add.s(i, i).set(time_limit=60) for i in range(10)])``."""
        self.options.update(options)
        return self

    def apply_async(self, **options: Any) -> AsyncResult:
        return self.task.apply_async(self.args, self.kwargs, **{**self.options, **options})

    delay = apply_async

    def spec(self) -> pb.TaskSpec:
        return build_spec(self.task.name, self.args, self.kwargs, self.task._options(self.options))

    def __repr__(self) -> str:
        return f"{self.task.name}{self.args!r}"


class Task:
    """A registered task. Calling it runs the function here; ``delay``/``apply_async``
    send it to the broker. Created by ``@app.task``; not meant to be built directly."""

    def __init__(self, app: "App", fn: Callable, name: str, *, bind: bool, queue: str | None,
                 priority: int | None, max_retries: int | None, retry_backoff: Any, retry_backoff_max: Any,
                 retry_jitter: bool | None, result_ttl: Any, autoretry_for: tuple, default_retry_delay: float,
                 time_limit: float | None = None, soft_time_limit: float | None = None):
        self.app = app
        self.name = name
        self.bind = bind
        self.queue = queue
        self.priority = priority
        self.max_retries = DEFAULT_MAX_RETRIES if max_retries is None else max_retries
        self.retry_backoff = retry_backoff
        self.retry_backoff_max = retry_backoff_max
        self.retry_jitter = retry_jitter
        self.result_ttl = result_ttl
        self.autoretry_for = tuple(autoretry_for)
        self.default_retry_delay = default_retry_delay
        # Seconds; enforced by the worker (None: the worker's --time-limit/--soft-time-limit).
        # Not sent by apply_async: a time_limit/soft_time_limit given to it overrides these.
        self.time_limit = time_limit
        self.soft_time_limit = soft_time_limit
        self._fn = fn
        self._defaults: dict | None = None  # built on first use: the attributes may be changed before
        self._local = threading.local()
        functools.update_wrapper(self, fn)

    def __repr__(self) -> str:
        return f"<@task: {self.name} of {self.app.main or 'brokerd'}>"

    # ---- running here ----------------------------------------------------------------------

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.bind:
            return self._fn(self, *args, **kwargs)
        return self._fn(*args, **kwargs)

    def run(self, *args: Any, **kwargs: Any) -> Any:
        """The task's body, as ``__call__`` (Celery's name)."""
        return self(*args, **kwargs)

    @property
    def request(self) -> Context:
        context = getattr(self._local, "context", None)
        if context is None:
            context = self._local.context = Context()
        return context

    def _run_in_worker(self, context: Context, args: list, kwargs: dict) -> Any:
        """Runs the body with ``self.request`` describing this delivery (worker only)."""
        previous = getattr(self._local, "context", None)
        self._local.context = context
        try:
            return self(*args, **kwargs)
        finally:
            self._local.context = previous

    def retry(self, exc: BaseException | None = None, countdown: float | None = None,
              eta: Any = None, max_retries: int | None = None, **_ignored: Any) -> Retry:
        """Asks the broker to run this task again after ``countdown`` seconds (the task's
        ``default_retry_delay`` when None). Raises ``Retry``; ``raise self.retry(...)``
        reads as in Celery. The broker counts the retries; the limit is ``max_retries``
        (this task's, as the worker registered it): with none left the task ends FAILURE
        with ``exc``'s type and message.
        Called outside a worker it raises ``exc`` (or ``Retry``)."""
        if self.request.called_directly:
            raise exc if exc is not None else Retry(None, countdown)
        if countdown is None and eta is not None:
            import time
            import datetime
            when = eta.timestamp() if isinstance(eta, datetime.datetime) else float(eta)
            countdown = max(0.0, when - time.time())
        if countdown is None:
            countdown = self.default_retry_delay
        raise Retry(exc, countdown, self.max_retries if max_retries is None else max_retries)

    # ---- sending to the broker -----------------------------------------------------------------

    def s(self, *args: Any, **kwargs: Any) -> Signature:
        return Signature(self, args, kwargs)

    signature = s

    def delay(self, *args: Any, **kwargs: Any) -> AsyncResult:
        """Enqueues the task; returns once the broker has it on disk."""
        return self.apply_async(args, kwargs)

    async def adelay(self, *args: Any, **kwargs: Any) -> AsyncResult:
        return await self.aapply_async(args, kwargs)

    def apply_async(self, args: Sequence[Any] | None = None, kwargs: Mapping[str, Any] | None = None,
                    **options: Any) -> AsyncResult:
        """Enqueues with options: ``countdown`` (seconds), ``eta`` (datetime or Unix
        seconds), ``priority`` (0..9, 9 first), ``queue``, ``task_id``, ``max_retries``,
        ``retry_backoff``, ``retry_backoff_max``, ``retry_jitter``, ``result_ttl``,
        ``time_limit`` and ``soft_time_limit`` (seconds, for this call: they override the
        task's and the worker's; the broker enforces the hard one too) and
        ``max_deliveries`` (lost leases in a row before the task ends FAILURE)."""
        return self.app.send_task(self.name, args, kwargs, **self._options(options))

    async def aapply_async(self, args: Sequence[Any] | None = None, kwargs: Mapping[str, Any] | None = None,
                           **options: Any) -> AsyncResult:
        return await self.app.asend_task(self.name, args, kwargs, **self._options(options))

    def AsyncResult(self, task_id: str) -> AsyncResult:  # noqa: N802 (Celery's name)
        return AsyncResult(task_id, app=self.app)

    def _options(self, given: Mapping[str, Any]) -> dict:
        """The task's defaults overlaid with ``given`` (None means "not given")."""
        if self._defaults is None:
            defaults = {
                "queue": self.queue, "priority": self.priority, "max_retries": self.max_retries,
                "retry_backoff": self.retry_backoff, "retry_backoff_max": self.retry_backoff_max,
                "retry_jitter": self.retry_jitter, "result_ttl": self.result_ttl,
            }
            self._defaults = {k: v for k, v in defaults.items() if v is not None}
        if not given:
            return self._defaults
        options = dict(self._defaults)
        options.update({k: v for k, v in given.items() if v is not None})
        return options


class App:
    """A brokerd application: the registry of tasks and the connection to the broker.

    ``server``: ``HOST:PORT``; None reads ``$BROKERD_SERVER``, else ``127.0.0.1:7411``.
    ``token``/``token_file`` and ``tls`` (True, or a ``TlsOptions``) default to the
    environment, as for the C++ client (see ``brokerd.settings``).
    """

    def __init__(self, main: str | None = None, server: str | None = None, *, token: str | None = None,
                 token_file: str | None = None, tls: TlsOptions | bool | None = None,
                 client_name: str | None = None, connect_timeout: float = 10.0,
                 broker: str | None = None, backend: Any = None, **_celery_ignored: Any):
        # broker= is accepted as an alias of server= so Celery(...) calls port over;
        # a redis:// URL there is not brokerd and is refused.
        server = server or broker
        if server is not None and "://" in server:
            if not server.startswith("brokerd://"):
                raise ValueError(f"{server!r} is not a brokerd address; give HOST:PORT")
            server = server[len("brokerd://"):].rstrip("/")
        self.main = main
        self.address = server_from_environment(server)
        self.security = resolve_security(token, token_file, tls)
        self.client_name = client_name or f"{os.path.basename(sys.argv[0]) or 'python'}@{socket.gethostname()}"
        self.connect_timeout = connect_timeout
        self.tasks: dict[str, Task] = {}
        self._client_lock = threading.Lock()
        self._client_instance: BrokerClient | None = None
        _set_default_app(self)

    def __repr__(self) -> str:
        return f"<brokerd.App {self.main or ''} at {self.address}>"

    # ---- tasks ---------------------------------------------------------------------------------

    def task(self, fn: Callable | None = None, *, name: str | None = None, bind: bool = False,
             queue: str | None = None, priority: int | None = None, max_retries: int | None = None,
             retry_backoff: Any = None, retry_backoff_max: Any = None, retry_jitter: bool | None = None,
             result_ttl: Any = None, autoretry_for: Sequence[type] = (), default_retry_delay: float = 180,
             time_limit: float | None = None, soft_time_limit: float | None = None, **_celery_ignored: Any):
        """Registers a function as a task; usable bare (``@app.task``) or with options.

        The name defaults to ``module.function`` (as in Celery). ``max_retries``
        (default 3) bounds ``self.retry()`` and ``autoretry_for`` retries; an exception
        not in ``autoretry_for`` ends the task FAILURE at once. ``time_limit`` and
        ``soft_time_limit`` (seconds) are enforced by the worker: see docs/python.md."""

        def register(function: Callable) -> Task:
            task_name = name or self._default_name(function)
            task = Task(self, function, task_name, bind=bind, queue=queue, priority=priority,
                        max_retries=max_retries, retry_backoff=retry_backoff,
                        retry_backoff_max=retry_backoff_max, retry_jitter=retry_jitter,
                        result_ttl=result_ttl, autoretry_for=tuple(autoretry_for),
                        default_retry_delay=default_retry_delay, time_limit=time_limit,
                        soft_time_limit=soft_time_limit)
            self.tasks[task_name] = task
            return task

        return register(fn) if fn is not None else register

    def _default_name(self, function: Callable) -> str:
        module = function.__module__
        if module == "__main__":
            module = self.main or ""
        return f"{module}.{function.__name__}" if module else function.__name__

    # ---- sending ---------------------------------------------------------------------------------

    def send_task(self, name: str, args: Sequence[Any] | None = None, kwargs: Mapping[str, Any] | None = None,
                  **options: Any) -> AsyncResult:
        """Enqueues a task by name (it need not be registered here); options as for
        ``Task.apply_async``. Returns once the broker has it on disk."""
        reply = self._client.call(_enqueue(name, args, kwargs, options))
        return AsyncResult(reply.enqueue_ok.id, app=self)

    async def asend_task(self, name: str, args: Sequence[Any] | None = None,
                         kwargs: Mapping[str, Any] | None = None, **options: Any) -> AsyncResult:
        reply = await self._client.acall(_enqueue(name, args, kwargs, options))
        return AsyncResult(reply.enqueue_ok.id, app=self)

    def send_batch(self, signatures: Sequence[Signature]) -> list[AsyncResult]:
        """Enqueues many tasks in one request, all or nothing (``EnqueueBatch``, up to
        10,000): ``app.send_batch([add.s(i, i) for i in range(100)])``."""
        reply = self._client.call(_enqueue_batch([sig.spec() for sig in signatures]))
        return [AsyncResult(ok.id, app=self) for ok in reply.enqueue_batch_ok.tasks]

    async def asend_batch(self, signatures: Sequence[Signature]) -> list[AsyncResult]:
        reply = await self._client.acall(_enqueue_batch([sig.spec() for sig in signatures]))
        return [AsyncResult(ok.id, app=self) for ok in reply.enqueue_batch_ok.tasks]

    def send_many(self, signatures: Iterable[Signature], window: int = 1024) -> list[AsyncResult]:
        """Enqueues each task as a request of its own, pipelined: up to ``window``
        requests in flight on the connection, so the broker's replies (each after its
        group commit) overlap instead of being waited for one by one. Not all or nothing,
        unlike ``send_batch``: every task is sent, then the first error (if any) is
        raised. Returns the results in order."""
        return self._client.call_many((_enqueue_signature(sig) for sig in signatures), window,
                                      lambda reply: AsyncResult(reply.enqueue_ok.id, app=self))

    def AsyncResult(self, task_id: str) -> AsyncResult:  # noqa: N802 (Celery's name)
        return AsyncResult(task_id, app=self)

    # ---- the broker ------------------------------------------------------------------------------

    @property
    def control(self) -> "Control":
        return Control(self)

    @property
    def _client(self) -> BrokerClient:
        client = self._client_instance
        if client is None:
            with self._client_lock:
                if self._client_instance is None:
                    self._client_instance = BrokerClient(self.address, self.security, self.client_name,
                                                         connect_timeout=self.connect_timeout)
                client = self._client_instance
        return client

    def ping(self, timeout: float | None = 10.0) -> None:
        """Raises unless the broker answers within ``timeout``."""
        envelope = pb.Envelope()
        envelope.ping.payload = b"ping"
        self._client.call(envelope, timeout=timeout)

    def close(self) -> None:
        """Closes the connection; the app reconnects if used again."""
        with self._client_lock:
            client, self._client_instance = self._client_instance, None
        if client is not None:
            client.close()

    def events(self, queues: Sequence[str] = ()):
        """Task and worker events as they happen: see ``brokerd.events``."""
        from brokerd.events import EventStream
        return EventStream(self, queues)


class Control:
    """Operator requests (``app.control``), the Python side of brokerctl."""

    def __init__(self, app: App):
        self.app = app

    def revoke(self, task_id: str) -> str:
        return AsyncResult(task_id, app=self.app).revoke()

    def purge(self, queue: str = "default") -> int:
        """Revokes every ready task of ``queue``; returns how many."""
        removed = 0
        while True:
            envelope = pb.Envelope()
            envelope.purge.queue = queue
            envelope.purge.limit = 10_000
            count = self.app._client.call(envelope).purge_ok.removed
            removed += count
            if count == 0:
                return removed

    def queues(self) -> dict[str, dict[str, Any]]:
        """Every queue's counts: ``{"default": {"ready": 3, "in_flight": 1, ...}}``."""
        envelope = pb.Envelope()
        envelope.get_queue_stats.SetInParent()
        reply = self.app._client.call(envelope).queue_stats
        return {q.name: _message_dict(q, skip=("name",)) for q in reply.queues}

    def workers(self) -> list[dict[str, Any]]:
        envelope = pb.Envelope()
        envelope.get_workers.SetInParent()
        return [_message_dict(w) for w in self.app._client.call(envelope).workers.workers]

    def tasks(self, queue: str = "default", state: str | None = None, limit: int = 100) -> list[TaskInfo]:
        envelope = pb.Envelope()
        envelope.list_tasks.queue = queue
        if state:
            envelope.list_tasks.state = pb.TaskState.Value(state)
        envelope.list_tasks.limit = limit
        return [TaskInfo.from_record(t) for t in self.app._client.call(envelope).task_list.tasks]


def _message_dict(message, skip: tuple = ()) -> dict[str, Any]:
    """A message's fields as plain Python values (nested messages as dicts)."""
    result: dict[str, Any] = {}
    for field in message.DESCRIPTOR.fields:
        if field.name in skip:
            continue
        value = getattr(message, field.name)
        if field.message_type is not None:
            if field.label == field.LABEL_REPEATED:
                value = [_message_dict(item) for item in value]
            else:
                value = _message_dict(value)
        elif field.label == field.LABEL_REPEATED:
            value = list(value)
        result[field.name] = value
    return result


def _enqueue(name: str, args, kwargs, options: Mapping[str, Any]) -> pb.Envelope:
    envelope = pb.Envelope()
    build_spec(name, args, kwargs, options, envelope.enqueue.task)
    return envelope


def _enqueue_signature(signature: Signature) -> pb.Envelope:
    task = signature.task
    return _enqueue(task.name, signature.args, signature.kwargs, task._options(signature.options))


def _enqueue_batch(specs: Sequence[pb.TaskSpec]) -> pb.Envelope:
    envelope = pb.Envelope()
    envelope.enqueue_batch.tasks.extend(specs)
    return envelope


_default_app: App | None = None


def _set_default_app(app: App) -> None:
    global _default_app
    _default_app = app


def default_app() -> App:
    """The most recently created App (``AsyncResult(id)`` without ``app=`` uses it)."""
    if _default_app is None:
        return App()
    return _default_app


__all__ = ["App", "Task", "Signature", "Context", "Control"]
