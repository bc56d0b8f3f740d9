"""A reconnecting request channel to brokerd, for producers and readers.

``BrokerClient`` holds at most one :class:`~brokerd.connection.Connection` and opens a new
one when the last broke: a request made while the broker restarts waits (up to the
connect timeout) for it to come back. Every request here is safe to resend after a lost
connection (enqueues carry a client-made task id), so a request whose connection broke
before its reply is sent again once.

``call`` blocks the calling thread; ``acall`` is its asyncio twin and never blocks the
event loop (connecting runs in the loop's default executor). Both may be used at once
from any number of threads and tasks: requests are pipelined on the one connection.
"""
from __future__ import annotations

import _thread
import asyncio
import collections
import functools
import threading
import time
import weakref
from typing import Any, Callable, Iterable

from brokerd._wire import pb
from brokerd.connection import Connection, reply_error
from brokerd.errors import BrokerUnavailable, ConnectionLost
from brokerd.errors import TimeoutError as BrokerTimeout
from brokerd.settings import Address, Security

_RECONNECT_FIRST_S = 0.05
_RECONNECT_MAX_S = 1.0


class _Waiter:
    """Completed once by the I/O thread; waited on by one caller thread."""

    __slots__ = ("_lock", "envelope", "error")

    def __init__(self) -> None:
        self._lock = _thread.allocate_lock()
        self._lock.acquire()
        self.envelope: pb.Envelope | None = None
        self.error: BaseException | None = None

    def __call__(self, envelope, error) -> None:
        self.envelope = envelope
        self.error = error
        self._lock.release()

    def wait(self, timeout: float | None) -> bool:
        return self._lock.acquire(timeout=-1 if timeout is None else max(timeout, 0))


class BrokerClient:
    def __init__(self, address: Address, security: Security, client_name: str, *,
                 connect_timeout: float = 10.0):
        self.address = address
        self.security = security
        self.client_name = client_name
        self.connect_timeout = connect_timeout
        self._lock = threading.Lock()  # held while connecting
        self._connection: Connection | None = None
        self._closed = False
        self._settlers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    # ---- the connection ------------------------------------------------------------------

    def connection(self) -> Connection:
        """The live connection, opening one (and retrying with backoff until
        ``connect_timeout``) when there is none. Raises BrokerUnavailable."""
        conn = self._connection
        if conn is not None and not conn.closed.is_set():
            return conn
        with self._lock:
            conn = self._connection
            if conn is not None and not conn.closed.is_set():
                return conn
            if self._closed:
                raise BrokerUnavailable("this client was closed")
            deadline = time.monotonic() + self.connect_timeout
            delay = _RECONNECT_FIRST_S
            while True:
                try:
                    conn = Connection.open(self.address, security=self.security, client_name=self.client_name,
                                           timeout=min(self.connect_timeout, 10.0))
                    break
                except BrokerUnavailable:
                    if time.monotonic() + delay > deadline:
                        raise
                    time.sleep(delay)
                    delay = min(delay * 2, _RECONNECT_MAX_S)
            self._connection = conn
            return conn

    def close(self) -> None:
        with self._lock:
            self._closed = True
            conn, self._connection = self._connection, None
        if conn is not None:
            conn.close()

    # ---- requests --------------------------------------------------------------------------

    def call(self, envelope: pb.Envelope, timeout: float | None = None, *, resend: bool = True) -> pb.Envelope:
        """Sends one request and returns its reply; an ``Error`` reply is raised as its
        exception (``brokerd.errors``). ``timeout`` bounds the wait for the reply (None:
        no bound; the keepalive notices a dead connection)."""
        attempts = 2 if resend else 1
        for attempt in range(attempts):
            conn = self.connection()
            waiter = _Waiter()
            try:
                request_id = conn.request(envelope, waiter)
            except ConnectionLost:
                if attempt + 1 < attempts:
                    continue
                raise
            if not waiter.wait(timeout):
                conn.forget(request_id)
                raise BrokerTimeout(f"no reply from brokerd within {timeout} s")
            if waiter.error is not None:
                if attempt + 1 < attempts and isinstance(waiter.error, ConnectionLost):
                    continue
                raise waiter.error
            error = reply_error(waiter.envelope)
            if error is not None:
                raise error
            return waiter.envelope
        raise AssertionError("unreachable")

    def call_many(self, envelopes: Iterable[pb.Envelope], window: int, convert: Callable[[pb.Envelope], Any]) -> list:
        """Sends every request, at most ``window`` unanswered at a time, and returns
        ``convert(reply)`` of each in order. After a lost connection the requests without
        a reply are sent again once (they must be idempotent). Raises the first error
        once every request has been answered."""
        window = max(1, window)
        requests = list(envelopes)
        replies: list = [None] * len(requests)
        todo = list(range(len(requests)))
        for attempt in range(2):
            failures = self._pipeline(requests, todo, replies, window)
            lost = [index for index, error in failures if isinstance(error, ConnectionLost)]
            others = [error for _, error in failures if not isinstance(error, ConnectionLost)]
            if others:
                raise others[0]
            if not lost:
                break
            if attempt == 1:
                raise ConnectionLost(f"{len(lost)} of {len(requests)} requests lost their connection twice")
            todo = lost
        return [convert(reply) for reply in replies]

    def _pipeline(self, requests, todo, replies, window):
        conn = self.connection()
        slots = threading.Semaphore(window)
        done = threading.Event()
        lock = threading.Lock()
        failures: list = []
        outstanding = [len(todo)]
        if not todo:
            return failures

        def finish(index, reply, error):
            if error is None:
                error = reply_error(reply)
            with lock:
                if error is not None:
                    failures.append((index, error))
                else:
                    replies[index] = reply
                outstanding[0] -= 1
                last = outstanding[0] == 0
            slots.release()
            if last:
                done.set()

        sent = 0
        for position, index in enumerate(todo):
            if not slots.acquire(blocking=False):
                conn.flush()  # what is corked goes out before we wait for room
                slots.acquire()
            try:
                conn.request(requests[index], functools.partial(finish, index), corked=True)
                sent += 1
            except ConnectionLost as e:
                for unsent in todo[position:]:
                    failures.append((unsent, e))
                with lock:
                    outstanding[0] -= len(todo) - position
                    if outstanding[0] == 0:
                        done.set()
                break
        conn.flush()
        done.wait()
        return failures

    async def acall(self, envelope: pb.Envelope, *, resend: bool = True) -> pb.Envelope:
        """The asyncio form of :meth:`call`; cancelling it forgets the reply."""
        loop = asyncio.get_running_loop()
        attempts = 2 if resend else 1
        for attempt in range(attempts):
            conn = self._connection
            if conn is None or conn.closed.is_set():
                conn = await loop.run_in_executor(None, self.connection)
            future = loop.create_future()
            settler = self._settler(loop)
            try:
                request_id = conn.request(envelope, functools.partial(settler.settle, future), corked=True)
                settler.flush_soon(conn)
            except ConnectionLost:
                if attempt + 1 < attempts:
                    continue
                raise
            try:
                reply = await future
            except ConnectionLost:
                if attempt + 1 < attempts:
                    continue
                raise
            except asyncio.CancelledError:
                conn.forget(request_id)
                raise
            error = reply_error(reply)
            if error is not None:
                raise error
            return reply
        raise AssertionError("unreachable")

    def _settler(self, loop: asyncio.AbstractEventLoop) -> "_LoopSettler":
        settler = self._settlers.get(loop)
        if settler is None:
            settler = self._settlers[loop] = _LoopSettler(loop)
        return settler



class _LoopSettler:
    """Carries replies from the I/O thread to one event loop in batches: one wake-up of
    the loop per batch of replies instead of one per reply, and one write per loop turn
    for the requests its coroutines made (corked until the turn ends)."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        # Weak: the client's map of settlers is keyed weakly by loop, and a strong
        # reference here would keep every loop ever used alive.
        self._loop_ref = weakref.ref(loop)
        self._items: collections.deque = collections.deque()
        self._lock = threading.Lock()
        self._scheduled = False
        self._to_flush: set = set()

    def settle(self, future: asyncio.Future, reply, error) -> None:  # on the I/O thread
        self._items.append((future, reply, error))
        with self._lock:
            if self._scheduled:
                return
            self._scheduled = True
        loop = self._loop_ref()
        if loop is None:
            return  # the loop is gone: nobody waits any more
        try:
            loop.call_soon_threadsafe(self._drain)
        except RuntimeError:  # the loop is closed
            pass

    def _drain(self) -> None:
        with self._lock:
            self._scheduled = False
        while self._items:
            _settle(*self._items.popleft())

    def flush_soon(self, connection) -> None:  # on the loop's thread
        if not self._to_flush:
            asyncio.get_running_loop().call_soon(self._flush)
        self._to_flush.add(connection)

    def _flush(self) -> None:
        connections, self._to_flush = self._to_flush, set()
        for connection in connections:
            connection.flush()


def _settle(future: asyncio.Future, reply, error) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(reply)
