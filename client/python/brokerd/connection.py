"""One connection to brokerd: framing, handshake, pipelined requests and server pushes.

The frame is a 4-byte big-endian length and one ``brokerd.v1.Envelope`` (docs/protocol.md
§1). A connection runs one I/O thread that reads every frame, writes what callers queued
and pings when idle; callers on any thread (or an asyncio loop) send requests without
blocking and get their reply through a callback, matched by request id, so any number of
requests may be in flight at once.

Thread rules: ``send``/``request``/``close`` may be called from any thread and never
block on the network (a plain socket is written directly when it has room, otherwise the
I/O thread writes it). Reply callbacks and push handlers run on the I/O thread: they must
be quick and must not wait for another reply.
"""
from __future__ import annotations

import collections
import os
import select
import socket
import ssl
import struct
import threading
import time
from typing import Callable

from brokerd._wire import pb
from brokerd.errors import BrokerError, BrokerUnavailable, ConnectionLost, error_from_wire
from brokerd.settings import Address, Security

PROTOCOL_VERSION = 1
_HEADER = struct.Struct(">I")
_READ_CHUNK = 256 * 1024
# Frames from the server may carry a whole TaskRecord: accept the server's limit plus a
# payload (protocol.md §1) and a margin.
_DEFAULT_MAX_INBOUND = 64 * 1024 * 1024

# Handshake errors that say this client will not get in by trying again; any other error
# in reply to Hello (too many connections, shutting down) is BrokerUnavailable.
_HANDSHAKE_REFUSALS = frozenset({"PERMISSION_DENIED", "UNSUPPORTED_VERSION", "HANDSHAKE_REQUIRED"})
# With pings going out every interval, a connection on which nothing arrives for this
# many intervals is dead even if TCP has not noticed.
_SILENT_PINGS = 3
_CLOSE_FLUSH_S = 5.0
_CLOSE_POLL_MS = 100

# (envelope or None, exception or None)
ReplyCallback = Callable[["pb.Envelope | None", "BaseException | None"], None]


def encode_frame(envelope: "pb.Envelope") -> bytes:
    body = envelope.SerializeToString()
    return _HEADER.pack(len(body)) + body


def reply_error(envelope: "pb.Envelope") -> BrokerError | None:
    """The exception an ``Error`` reply stands for, or None for any other reply."""
    if envelope.WhichOneof("body") != "error":
        return None
    return error_from_wire(enum_name(pb.ErrorCode, envelope.error.code), envelope.error.message)


def enum_name(enum, value: int) -> str:
    """The name of an enum value; ``UNKNOWN_<n>`` for one this client does not know (a
    newer server's), which callers treat as a failure rather than crash on."""
    try:
        return enum.Name(value)
    except ValueError:
        return f"UNKNOWN_{value}"


def _tls_context(security: Security) -> ssl.SSLContext:
    tls = security.tls
    context = ssl.create_default_context(cafile=tls.ca_file or None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if tls.cert_file:
        context.load_cert_chain(tls.cert_file, tls.key_file or None)
    return context


class Connection:
    """A handshaken connection. Open one with :meth:`open`; it is not reopened: after
    ``closed`` is set, make a new one (``brokerd.client.BrokerClient`` does)."""

    def __init__(self, sock: socket.socket, hello_ok: "pb.HelloOk", *, tls: bool,
                 on_push: "Callable[[Connection, pb.Envelope], None] | None",
                 on_close: "Callable[[Connection, BaseException], None] | None", name: str,
                 threaded: bool = True):
        self.hello_ok = hello_ok
        self.role = hello_ok.role
        self._sock = sock
        self._tls = tls
        self._on_push = on_push
        self._on_close = on_close
        self._lock = threading.Lock()
        self._pending: dict[int, ReplyCallback] = {}
        self._next_id = 2  # 1 was the hello
        self._outbound: collections.deque[bytes] = collections.deque()
        self._outbound_offset = 0  # bytes of _outbound[0] already written
        # TLS must retry a write that wanted more with the very same buffer: no gathering
        # of further frames into it until it went through.
        self._write_retry = False
        self._threaded = threaded
        self._inbound = bytearray()  # read, not yet a whole frame
        if threaded:
            self._wake_r, self._wake_w = os.pipe()
            os.set_blocking(self._wake_r, False)
            os.set_blocking(self._wake_w, False)
        self._wake_armed = False
        self._closing = False
        self._close_error: BaseException | None = None
        self.closed = threading.Event()
        idle_ms = hello_ok.idle_timeout_ms
        self._ping_interval = idle_ms / 3000.0 if idle_ms > 0 else None
        self._last_send = self._last_receive = time.monotonic()
        self._tls_read_wants_write = False
        self._tls_write_wants_read = False
        sock.setblocking(False)
        if threaded:
            self._thread = threading.Thread(target=self._run, name=f"brokerd-io-{name}", daemon=True)
            self._thread.start()

    # ---- opening -----------------------------------------------------------------------

    @classmethod
    def open(cls, address: Address, *, security: Security, client_name: str, timeout: float = 10.0,
             on_push: "Callable[[Connection, pb.Envelope], None] | None" = None,
             on_close: "Callable[[Connection, BaseException], None] | None" = None,
             threaded: bool = True) -> "Connection":
        """Connects, performs TLS if configured and the handshake. Raises
        BrokerUnavailable when the broker cannot be reached or cannot take the connection
        now (too many connections, shutting down), BrokerError (PERMISSION_DENIED,
        UNSUPPORTED_VERSION) when it refuses this client. ``on_push(connection, envelope)``
        and ``on_close(connection, error)`` run on the I/O thread."""
        try:
            sock = socket.create_connection((address.host, address.port), timeout=timeout)
        except OSError as e:
            raise BrokerUnavailable(f"cannot connect to brokerd at {address}: {e.strerror or e}") from None
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            # A broker that vanished without a FIN (host down, cable cut) is noticed in
            # about a minute even where the server sets no idle timeout (and so no pings).
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            for option, value in (("TCP_KEEPIDLE", 30), ("TCP_KEEPINTVL", 10), ("TCP_KEEPCNT", 3)):
                if hasattr(socket, option):
                    sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, option), value)
            if security.tls.active:
                context = _tls_context(security)
                server_name = security.tls.server_name or address.host
                sock = context.wrap_socket(sock, server_hostname=server_name)
            hello = pb.Envelope(id=1)
            hello.hello.protocol_version = PROTOCOL_VERSION
            hello.hello.client_name = client_name
            hello.hello.auth_token = security.token
            hello.hello.hostname = socket.gethostname()
            hello.hello.pid = os.getpid()
            sock.sendall(encode_frame(hello))
            reply = _read_frame_blocking(sock)
        except ssl.SSLError as e:
            sock.close()
            raise BrokerUnavailable(f"TLS with brokerd at {address} failed: {e}") from None
        except OSError as e:
            sock.close()
            raise BrokerUnavailable(f"handshake with brokerd at {address} failed: {e.strerror or e}") from None
        except BaseException:
            sock.close()
            raise
        error = reply_error(reply)
        if error is not None:
            sock.close()
            if error.code in _HANDSHAKE_REFUSALS:
                raise error
            raise BrokerUnavailable(f"brokerd at {address} cannot take the connection now: {error}")
        if reply.WhichOneof("body") != "hello_ok":
            sock.close()
            raise BrokerError(f"brokerd at {address} answered the handshake with {reply.WhichOneof('body')}")
        return cls(sock, reply.hello_ok, tls=security.tls.active, on_push=on_push, on_close=on_close,
                   name=str(address), threaded=threaded)

    # ---- sending -----------------------------------------------------------------------

    def request(self, envelope: "pb.Envelope", callback: ReplyCallback | None, *, corked: bool = False) -> int:
        """Sends ``envelope`` with a fresh request id; ``callback`` gets the reply (an
        ``Error`` reply is passed as the envelope; use :func:`reply_error`) or, if the
        connection breaks first, ``ConnectionLost``. Raises ConnectionLost when already
        closed.

        ``corked``: only queue the frame; the caller calls :meth:`flush` once after a run
        of requests, so that they leave in one write instead of one system call each."""
        frame_envelope = envelope
        with self._lock:
            if self._closing:
                raise ConnectionLost(self._closed_message())
            request_id = self._next_id
            self._next_id += 1
            frame_envelope.id = request_id
            if callback is not None:
                self._pending[request_id] = callback
            if corked:
                self._outbound.append(encode_frame(frame_envelope))
            else:
                self._queue_locked(encode_frame(frame_envelope))
        return request_id

    def flush(self) -> None:
        """Writes what corked requests queued (what does not fit now, the I/O thread does)."""
        with self._lock:
            if not self._outbound or self._closing:
                return
            if self._tls or self._outbound_offset:
                self._wake_locked()
                return
            frame = b"".join(self._outbound) if len(self._outbound) > 1 else self._outbound[0]
            self._outbound.clear()
            self._last_send = time.monotonic()
            try:
                written = self._sock.send(frame)
            except (BlockingIOError, InterruptedError, OSError):
                written = 0
            if written < len(frame):
                self._outbound.append(frame)
                self._outbound_offset = written
                self._wake_locked()

    def forget(self, request_id: int) -> None:
        """Drops the callback of a request whose caller stopped waiting."""
        with self._lock:
            self._pending.pop(request_id, None)

    def _queue_locked(self, frame: bytes) -> None:
        self._last_send = time.monotonic()
        if not self._outbound and not self._tls:
            # Fast path: a non-blocking write straight away; the rest, if any, to the
            # I/O thread. (With TLS only the I/O thread touches the socket.)
            try:
                written = self._sock.send(frame)
            except (BlockingIOError, InterruptedError):
                written = 0
            except OSError:
                written = 0  # the I/O thread sees the error on its next read
            if written == len(frame):
                return
            self._outbound.append(frame)
            self._outbound_offset = written
        else:
            self._outbound.append(frame)
        self._wake_locked()

    def _wake_locked(self) -> None:
        if not self._threaded:
            return  # the owner's loop looks at wants_write() every turn
        if not self._wake_armed:
            self._wake_armed = True
            try:
                os.write(self._wake_w, b"w")
            except BlockingIOError:
                pass

    def close(self, error: BaseException | None = None) -> None:
        """Closes the connection (after writing what is queued); pending requests fail
        with ConnectionLost. Does not wait; ``closed`` is set when done."""
        with self._lock:
            if self._closing:
                return
            self._closing = True
            self._close_error = error
            self._wake_locked()
        if not self._threaded:
            try:
                self._write_some()  # what fits now; a driven connection closes at once
            except OSError:
                pass
            self._finish(None)

    # ---- driven by the owner's loop (threaded=False) -------------------------------------
    # The owner's selector watches fileno() (for writing too while wants_write()), calls
    # on_events() when it is ready and on_timer() by next_deadline(). Everything, the
    # callbacks included, then runs on the owner's thread: no hand-over between threads.

    def fileno(self) -> int:
        return self._sock.fileno()

    def wants_write(self) -> bool:
        with self._lock:
            return (bool(self._outbound) and not self._tls_write_wants_read) or self._tls_read_wants_write

    def on_events(self, readable: bool, writable: bool) -> None:
        if self.closed.is_set():
            return
        try:
            self._io_step(readable, writable)
        except BrokerError as e:
            self._finish(e)
        except (OSError, ValueError) as e:
            self._finish(ConnectionLost(f"connection to brokerd failed: {e}"))

    def next_deadline(self) -> float | None:
        """Monotonic time on_timer() must run by (None: no keepalive)."""
        if self._ping_interval is None or self.closed.is_set():
            return None
        return min(self._last_send + self._ping_interval, self._last_receive + self._ping_interval * _SILENT_PINGS)

    def on_timer(self) -> None:
        if self.closed.is_set():
            return
        try:
            self._keepalive(time.monotonic())
        except BrokerError as e:
            self._finish(e)

    def _io_step(self, readable: bool, writable: bool) -> None:
        if readable or self._tls_read_wants_write:
            if not self._read_available(self._inbound):
                raise ConnectionLost("brokerd closed the connection")
        if readable or writable:
            self._write_some()

    def _keepalive(self, now: float) -> bool:
        """Closes a silent connection, pings when due; True when it sent a ping."""
        if self._ping_interval is None:
            return False
        if now - self._last_receive > self._ping_interval * _SILENT_PINGS:
            raise ConnectionLost(f"brokerd sent nothing for {now - self._last_receive:.0f} s "
                                 "(not even a reply to a ping)")
        if self._last_send + self._ping_interval <= now:
            self._send_ping()
            return True
        return False

    def _closed_message(self) -> str:
        if self._close_error is not None:
            return f"connection to brokerd closed: {self._close_error}"
        return "connection to brokerd closed"

    # ---- the I/O thread ----------------------------------------------------------------

    def _run(self) -> None:
        poller = select.poll()
        fd = self._sock.fileno()
        poller.register(self._wake_r, select.POLLIN)
        error: BaseException | None = None
        close_deadline = None
        try:
            while True:
                with self._lock:
                    want_write = bool(self._outbound)
                    closing = self._closing
                if closing:
                    if not want_write:
                        break
                    # Whatever was queued gets a few seconds to leave, not forever.
                    close_deadline = close_deadline or time.monotonic() + _CLOSE_FLUSH_S
                    if time.monotonic() > close_deadline:
                        break
                # TLS may need the other direction to make progress on this one.
                poll_out = (want_write and not self._tls_write_wants_read) or self._tls_read_wants_write
                poller.register(fd, select.POLLIN | (select.POLLOUT if poll_out else 0))
                timeout_ms = _CLOSE_POLL_MS if closing else None
                if self._keepalive(time.monotonic()):
                    continue
                deadline = self.next_deadline()
                if deadline is not None:
                    due_ms = int((deadline - time.monotonic()) * 1000) + 1
                    timeout_ms = max(0, min(timeout_ms or 1 << 30, due_ms))
                if self._tls and self._sock.pending():
                    events = [(fd, select.POLLIN)]
                else:
                    events = poller.poll(timeout_ms)
                for ready_fd, mask in events:
                    if ready_fd == self._wake_r:
                        self._drain_wake()
                        continue
                    self._io_step(bool(mask & (select.POLLIN | select.POLLERR | select.POLLHUP)),
                                  bool(mask & select.POLLOUT))
        except BrokerError as e:
            error = e
        except (OSError, ValueError) as e:
            error = ConnectionLost(f"connection to brokerd failed: {e}")
        finally:
            self._finish(error)

    def _send_ping(self) -> None:
        ping = pb.Envelope()
        ping.ping.payload = b"keepalive"
        with self._lock:
            if self._closing:
                return
            ping.id = self._next_id
            self._next_id += 1
            self._queue_locked(encode_frame(ping))

    def _drain_wake(self) -> None:
        # Empty the pipe first, then disarm: a frame queued before the disarm is seen by
        # the loop's next look at the queue, one queued after it writes a new wake-up.
        drain_pipe(self._wake_r)
        with self._lock:
            self._wake_armed = False

    def _read_available(self, buffer: bytearray) -> bool:
        """Reads what the socket has and dispatches whole frames; False on EOF."""
        while True:
            try:
                chunk = self._sock.recv(_READ_CHUNK)
            except (BlockingIOError, ssl.SSLWantReadError, InterruptedError):
                self._tls_read_wants_write = False
                return True
            except ssl.SSLWantWriteError:
                self._tls_read_wants_write = True  # poll for writable, then read again
                return True
            self._tls_read_wants_write = False
            if not chunk:
                return False
            self._last_receive = time.monotonic()
            buffer += chunk
            self._dispatch_frames(buffer)
            if len(chunk) < _READ_CHUNK and not (self._tls and self._sock.pending()):
                return True

    def _dispatch_frames(self, buffer: bytearray) -> None:
        offset = 0
        end = len(buffer)
        view = memoryview(buffer)
        try:
            while end - offset >= 4:
                (length,) = _HEADER.unpack_from(buffer, offset)
                if length > _DEFAULT_MAX_INBOUND:
                    raise ConnectionLost(f"brokerd sent a frame of {length} bytes, more than this client accepts")
                if end - offset - 4 < length:
                    break
                envelope = pb.Envelope.FromString(view[offset + 4:offset + 4 + length])
                offset += 4 + length
                self._dispatch(envelope)
        finally:
            view.release()
            del buffer[:offset]

    def _dispatch(self, envelope: "pb.Envelope") -> None:
        if envelope.id != 0:
            with self._lock:
                callback = self._pending.pop(envelope.id, None)
            if callback is not None:
                callback(envelope, None)
            return
        if envelope.WhichOneof("body") == "error":
            # A connection-level error: the server closes after it (protocol.md §12).
            raise reply_error(envelope)
        if self._on_push is not None:
            self._on_push(self, envelope)

    def _write_some(self) -> None:
        # Under the lock: sends are non-blocking, and callers on other threads (the
        # fast path, flush) touch the same queue and socket.
        with self._lock:
            while self._outbound:
                offset = self._outbound_offset
                # Gather small frames into one write (not while TLS retries a write).
                if offset == 0 and len(self._outbound) > 1 and not self._write_retry:
                    joined = b"".join(self._outbound)
                    self._outbound.clear()
                    self._outbound.append(joined)
                frame = self._outbound[0]
                try:
                    written = self._sock.send(memoryview(frame)[offset:])
                except ssl.SSLWantReadError:
                    self._write_retry = True
                    self._tls_write_wants_read = True  # retried when something was read
                    return
                except (BlockingIOError, ssl.SSLWantWriteError, InterruptedError):
                    self._write_retry = True
                    return
                self._write_retry = False
                self._tls_write_wants_read = False
                if offset + written >= len(frame):
                    self._outbound.popleft()
                    self._outbound_offset = 0
                else:
                    self._outbound_offset = offset + written
                    return

    def _finish(self, error: BaseException | None) -> None:
        if self.closed.is_set():
            return
        with self._lock:
            self._closing = True
            if error is None:
                error = self._close_error or ConnectionLost("connection to brokerd closed")
            elif self._close_error is None:
                self._close_error = error
            pending = list(self._pending.values())
            self._pending.clear()
            self._outbound.clear()
        try:
            self._sock.close()
        except OSError:
            pass
        if self._threaded:
            os.close(self._wake_r)
            os.close(self._wake_w)
        lost = error if isinstance(error, ConnectionLost) else ConnectionLost(str(error))
        for callback in pending:
            try:
                callback(None, lost)
            except Exception:  # a caller's callback must not stop the others
                pass
        self.closed.set()
        if self._on_close is not None:
            self._on_close(self, error)


def drain_pipe(fd: int) -> None:
    """Reads a non-blocking wake-up pipe empty."""
    try:
        while os.read(fd, 4096):
            pass
    except BlockingIOError:
        pass


def _read_frame_blocking(sock: socket.socket) -> "pb.Envelope":
    header = _recv_exactly(sock, 4)
    (length,) = _HEADER.unpack(header)
    if length > _DEFAULT_MAX_INBOUND:
        raise ConnectionLost(f"brokerd sent a frame of {length} bytes")
    return pb.Envelope.FromString(_recv_exactly(sock, length))


def _recv_exactly(sock: socket.socket, count: int) -> bytes:
    data = bytearray()
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise ConnectionLost("brokerd closed the connection during the handshake")
        data += chunk
    return bytes(data)


__all__ = ["Connection", "encode_frame", "reply_error", "PROTOCOL_VERSION"]
