"""Live task and worker events (protocol.md §9b), as Flower and ``brokerctl watch`` see them.

    with app.events(queues=["default"]) as stream:
        for event in stream:                 # blocks until the next event
            print(event.kind, event.task_id)

Each stream has a connection of its own. After a lost connection it reconnects and
subscribes again; events published meanwhile are gone, and the stream says so with an
``Event`` of kind ``EVENTS_MISSED`` (``count`` 0 when unknown). A reader slower than the
events holds at most ``buffer`` of them: later ones are dropped and counted, and an
``EVENTS_MISSED`` with their count comes before the next event it reads, as the broker
does for its own buffer.
"""
from __future__ import annotations

import collections
import dataclasses
import threading
import time
from typing import Iterator, Sequence

from brokerd._wire import pb
from brokerd.client import _Waiter
from brokerd.connection import Connection, enum_name, reply_error
from brokerd.errors import BrokerError

EVENTS_MISSED = "EVENTS_MISSED"
_RESUBSCRIBE_EVERY_S = 1.0


@dataclasses.dataclass(frozen=True)
class Event:
    kind: str  # TASK_ENQUEUED ... WORKER_OFFLINE (pb.EventKind names), or EVENTS_MISSED
    at_ms: int = 0
    task_id: str = ""
    task_name: str = ""
    queue: str = ""
    worker: str = ""
    attempt: int = 0
    error_type: str = ""
    error_message: str = ""
    runtime_ms: int = 0
    host: str = ""
    pid: int = 0
    count: int = 0  # EVENTS_MISSED only

    @classmethod
    def from_wire(cls, event: pb.Event) -> "Event":
        return cls(kind=enum_name(pb.EventKind, event.kind), at_ms=event.at_ms, task_id=event.task_id,
                   task_name=event.task_name, queue=event.queue, worker=event.worker, attempt=event.attempt,
                   error_type=event.error.type, error_message=event.error.message, runtime_ms=event.runtime_ms,
                   host=event.host, pid=event.pid)


class EventStream:
    def __init__(self, app, queues: Sequence[str] = (), buffer: int = 10_000):
        self._app = app
        self._queues = list(queues)
        self._capacity = max(1, buffer)
        self._events: collections.deque[Event] = collections.deque()
        self._missed = 0
        self._ready = threading.Condition()
        self._closed = False
        self._connection: Connection | None = None
        self._subscribe()

    def _on_push(self, connection: Connection, envelope: pb.Envelope) -> None:  # I/O thread
        kind = envelope.WhichOneof("body")
        if kind == "event":
            self._put(Event.from_wire(envelope.event))
        elif kind == "events_missed":
            self._put(Event(kind=EVENTS_MISSED, count=envelope.events_missed.count))

    def _put(self, event: Event) -> None:
        with self._ready:
            if len(self._events) >= self._capacity:
                self._missed += max(1, event.count)
                return
            if self._missed:
                self._events.append(Event(kind=EVENTS_MISSED, count=self._missed))
                self._missed = 0
            self._events.append(event)
            self._ready.notify()

    def _on_close(self, connection: Connection, error) -> None:  # I/O thread
        with self._ready:
            self._ready.notify()  # get() notices and subscribes again

    def _subscribe(self) -> None:
        """Opens a connection and subscribes on that very connection. Raises BrokerError."""
        app = self._app
        connection = Connection.open(app.address, security=app.security, client_name=f"{app.client_name}/events",
                                     timeout=app.connect_timeout, on_push=self._on_push, on_close=self._on_close)
        envelope = pb.Envelope()
        envelope.subscribe.queues.extend(self._queues)
        waiter = _Waiter()
        connection.request(envelope, waiter)
        if not waiter.wait(app.connect_timeout) or waiter.error is not None:
            connection.close()
            raise BrokerError(f"subscribing to events failed: {waiter.error or 'no reply'}")
        refusal = reply_error(waiter.envelope)
        if refusal is not None:
            connection.close()
            raise refusal
        self._connection = connection

    def _resubscribe_if_lost(self) -> None:
        connection = self._connection
        if connection is not None and not connection.closed.is_set():
            return
        self._connection = None
        try:
            self._subscribe()
        except BrokerError:
            return  # tried again on the next turn
        self._put(Event(kind=EVENTS_MISSED))

    def get(self, timeout: float | None = None) -> Event | None:
        """The next event, or None when ``timeout`` seconds pass without one."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._closed:
            with self._ready:
                if self._events:
                    return self._events.popleft()
                connection = self._connection
                if connection is not None and not connection.closed.is_set():
                    wait = _RESUBSCRIBE_EVERY_S if deadline is None else deadline - time.monotonic()
                    if wait > 0:
                        self._ready.wait(min(wait, _RESUBSCRIBE_EVERY_S))
                    if self._events:
                        return self._events.popleft()
            self._resubscribe_if_lost()
            if self._connection is None and (deadline is None or time.monotonic() < deadline):
                time.sleep(min(_RESUBSCRIBE_EVERY_S, max(0.0, (deadline or 1e18) - time.monotonic())))
            if deadline is not None and time.monotonic() >= deadline:
                return None
        return None

    def __iter__(self) -> Iterator[Event]:
        while not self._closed:
            event = self.get()
            if event is not None:
                yield event

    def close(self) -> None:
        self._closed = True
        if self._connection is not None:
            self._connection.close()
        with self._ready:
            self._ready.notify_all()

    def __enter__(self) -> "EventStream":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
