"""Live task and worker events (protocol.md §9b), as Flower and ``brokerctl watch`` see them.

    with app.events(queues=["default"]) as stream:
        for event in stream:                 # blocks until the next event
            print(event.kind, event.task_id)

Each stream has a connection of its own. After a lost connection it reconnects and
subscribes again; events published meanwhile are gone, and the stream says so with an
``Event`` of kind ``EVENTS_MISSED`` (``count`` 0 when unknown), as it does when the broker
dropped events because this reader was slow.
"""
from __future__ import annotations

import dataclasses
import queue
import threading
import time
from typing import Iterator, Sequence

from brokerd._wire import pb
from brokerd.client import BrokerClient
from brokerd.errors import BrokerUnavailable

EVENTS_MISSED = "EVENTS_MISSED"


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
        return cls(kind=pb.EventKind.Name(event.kind), at_ms=event.at_ms, task_id=event.task_id,
                   task_name=event.task_name, queue=event.queue, worker=event.worker, attempt=event.attempt,
                   error_type=event.error.type, error_message=event.error.message, runtime_ms=event.runtime_ms,
                   host=event.host, pid=event.pid)


class EventStream:
    def __init__(self, app, queues: Sequence[str] = ()):
        self._queues = list(queues)
        self._events: queue.Queue[Event] = queue.Queue()
        self._closed = threading.Event()
        self._client = BrokerClient(app.address, app.security, f"{app.client_name}/events",
                                    connect_timeout=app.connect_timeout, on_push=self._on_push)
        self._subscribed_connection = None
        self._subscribe()

    def _on_push(self, envelope: pb.Envelope) -> None:
        kind = envelope.WhichOneof("body")
        if kind == "event":
            self._events.put(Event.from_wire(envelope.event))
        elif kind == "events_missed":
            self._events.put(Event(kind=EVENTS_MISSED, count=envelope.events_missed.count))

    def _subscribe(self) -> None:
        envelope = pb.Envelope()
        envelope.subscribe.queues.extend(self._queues)
        self._client.call(envelope)
        self._subscribed_connection = self._client.connection()

    def get(self, timeout: float | None = None) -> Event | None:
        """The next event, or None when ``timeout`` seconds pass without one."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._closed.is_set():
            # Wake at least every second to notice a lost connection and subscribe again.
            slice_s = 1.0 if deadline is None else max(0.0, min(1.0, deadline - time.monotonic()))
            try:
                return self._events.get(timeout=slice_s)
            except queue.Empty:
                pass
            self._resubscribe_if_lost()
            if deadline is not None and time.monotonic() >= deadline:
                return None
        return None

    def _resubscribe_if_lost(self) -> None:
        connection = self._subscribed_connection
        if connection is not None and not connection.closed.is_set():
            return
        try:
            self._subscribe()
        except BrokerUnavailable:
            return
        self._events.put(Event(kind=EVENTS_MISSED))

    def __iter__(self) -> Iterator[Event]:
        while not self._closed.is_set():
            event = self.get()
            if event is not None:
                yield event

    def close(self) -> None:
        self._closed.set()
        self._client.close()

    def __enter__(self) -> "EventStream":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
