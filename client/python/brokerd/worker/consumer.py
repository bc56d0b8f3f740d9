"""The worker's main loop: one connection to the broker, a pool that runs the tasks.

Everything that changes the worker's state happens on the main thread, in one loop
driven by a selector: it drives the broker connection itself (no I/O thread, so a
delivery costs no hand-over between threads), prefork children report through their own
pipes and exit sentinels, and the rest (pool threads' outcomes, the connect thread,
signals) arrives through an inbox and a wake-up pipe (also the signal wake-up fd).

The rules it keeps (docs/python.md, "The worker"):
- at most ``prefetch`` deliveries held (the broker enforces it); they run in delivery
  order, one per free pool slot;
- every held lease is heartbeated, naming its task, every ``lease_ms / 3``; a task the
  broker reports lost (heartbeat ``lost_task_ids``) or revoked (``RevokeNotice``) has its
  outcome dropped, and a lost one that had not started is released to free its credit;
- a task id never runs twice inside this worker at once: a redelivery of an id still
  running here (its old lease lost, e.g. across a broker restart) waits for that run;
- a pool process that dies mid-task is replaced and its task released back to the queue;
- time limits: the delivery's (the producer's), else the task's, else the worker's; a
  producer's hard limit counts from the delivery, as the broker counts it;
- the connection is reopened by itself, with backoff, when it breaks;
- SIGTERM or SIGINT: warm shutdown (stop taking work, give back what has not started,
  finish and report what runs); a second one: cold (kill the pool, close at once; the
  broker requeues everything held).
"""
from __future__ import annotations

import collections
import enum
import logging
import os
import selectors
import signal
import threading
import time

from brokerd._wire import pb
from brokerd.connection import Connection, drain_pipe, reply_error
from brokerd.errors import BrokerError, BrokerUnavailable
from brokerd.worker.execution import Job

logger = logging.getLogger("brokerd.worker")

_RECONNECT_FIRST_S = 0.1
_RECONNECT_MAX_S = 5.0
# Heartbeats go out this often while the lease length is not known yet.
_DEFAULT_LEASE_MS = 30_000
_LOG_RESULT_CHARS = 1000
# A task whose pool process dies on this many deliveries since its last retry (counted by
# the broker across workers: attempts - retries) ends FAILURE WorkerLostError instead of
# going back to the queue again.
WORKER_LOST_ATTEMPTS = 3


class LeaseState(enum.Enum):
    BUFFERED = "buffered"    # delivered, not started
    RUNNING = "running"
    LOST = "lost"            # the broker gave it away (or the connection broke): drop outcome
    REVOKED = "revoked"      # an operator revoked it: drop outcome, nothing to report
    TIMED_OUT = "timed_out"  # passed its hard time limit: FAILURE reported, the run is being stopped


class HeldLease:
    __slots__ = ("job", "state", "connection", "received")

    def __init__(self, job: Job, connection: Connection):
        self.job = job
        self.state = LeaseState.BUFFERED
        self.connection = connection  # the lease is only valid on the connection that got it
        self.received = time.monotonic()


class Phase(enum.Enum):
    RUNNING = 1
    WARM = 2   # draining: no new work, finishing what runs
    COLD = 3


class WorkerLoop:
    def __init__(self, app, pool, *, queues: list[str], prefetch: int, hostname: str, lease_ms: int = 0,
                 time_limit: float | None = None, soft_time_limit: float | None = None):
        self.app = app
        self.pool = pool
        self.queues = queues
        self.prefetch = prefetch
        self.hostname = hostname
        self.requested_lease_ms = lease_ms
        self.time_limit = time_limit            # defaults for tasks that set none (seconds)
        self.soft_time_limit = soft_time_limit
        self.lease_ms = lease_ms or _DEFAULT_LEASE_MS

        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._inbox: collections.deque = collections.deque()
        self._wake_pending = False
        self._closed = False  # set when the loop has ended: posts are ignored
        self._to_flush: set[Connection] = set()  # connections with corked requests

        self._connection: Connection | None = None
        self._watched: Connection | None = None  # the connection the selector watches
        self._connecting = False
        self._held: dict[int, HeldLease] = {}          # lease_id -> lease
        self._buffer: collections.deque[int] = collections.deque()  # lease ids, delivery order
        self._running_tasks: dict[str, int] = {}        # task_id -> lease_id running in the pool
        # Complete/Release requests whose reply has not come, per connection, read by a
        # warm shutdown. (The lock is for a threaded connection; this loop drives its own.)
        self._outstanding: collections.Counter[Connection] = collections.Counter()
        self._outstanding_lock = threading.Lock()
        self._next_heartbeat = 0.0  # monotonic; first real one after ConsumeOk
        self._phase = Phase.RUNNING
        self._signals = 0
        self.completed = 0
        self.failed = 0

    # ---- cross-thread input ---------------------------------------------------------------

    def post(self, event: tuple) -> None:
        """Called from any thread: queue an event for the main loop and wake it (one
        wake-up per batch: the loop clears the flag before it empties the inbox)."""
        self._inbox.append(event)
        if not self._wake_pending and not self._closed:
            self._wake_pending = True
            try:
                os.write(self._wake_w, b"e")
            except OSError:
                pass  # full of wake-ups already, or closed as the loop ended

    def _on_push(self, connection: Connection, envelope: pb.Envelope) -> None:
        # The connection is driven by this loop: this runs on the main thread, inside
        # on_events(), and the loop empties the inbox right after. No wake-up needed.
        self._inbox.append(("push", connection, envelope))

    # ---- running ---------------------------------------------------------------------------

    def run(self) -> int:
        self._selector.register(self._wake_r, selectors.EVENT_READ, ("wake", None))
        previous_wakeup = signal.set_wakeup_fd(self._wake_w)
        handlers = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            self.pool.start(self._selector, self.post)
            self._start_connecting()
            while not self._finished():
                self._watch_connection()
                timeout = self._select_timeout()
                for key, mask in self._selector.select(timeout):
                    tag, slot = key.data
                    if tag == "wake":
                        self._drain_wake()
                    elif tag == "broker":
                        slot.on_events(bool(mask & selectors.EVENT_READ), bool(mask & selectors.EVENT_WRITE))
                    else:
                        for event in self.pool.on_ready(tag, slot):
                            self._handle(event)
                if self._connection is not None:
                    self._connection.on_timer()  # keepalive pings, a silent broker
                while self._inbox:
                    self._handle(self._inbox.popleft())
                self._heartbeat_if_due()
                self._enforce_time_limits()
                self.pool.tick()
                self._dispatch()
                self._flush()
        finally:
            for sig, handler in handlers.items():
                signal.signal(sig, handler)
            signal.set_wakeup_fd(previous_wakeup)
            self._close()
        return 0 if self._phase is not Phase.COLD else 1

    def _watch_connection(self) -> None:
        """Keeps the selector watching the live connection (for writing too when it has
        output waiting), and nothing else."""
        connection = self._connection if self._connected() else None
        if self._watched is not None and self._watched is not connection:
            try:
                self._selector.unregister(self._watched)
            except (KeyError, ValueError):
                pass
            self._watched = None
        if connection is None:
            return
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if connection.wants_write() else 0)
        if self._watched is None:
            self._selector.register(connection, events, ("broker", connection))
            self._watched = connection
        elif self._selector.get_key(connection).events != events:
            self._selector.modify(connection, events, ("broker", connection))

    def _select_timeout(self) -> float | None:
        deadlines = [self.pool.next_deadline(), self._limit_deadline()]
        if self._connection is not None:
            deadlines.append(self._connection.next_deadline())
        if self._held:
            deadlines.append(self._next_heartbeat)
        deadlines = [d for d in deadlines if d is not None]
        return max(0.0, min(deadlines) - time.monotonic()) if deadlines else None

    def _finished(self) -> bool:
        return self._phase is Phase.COLD or (self._phase is Phase.WARM and self._drained())

    def _drained(self) -> bool:
        # A run past its hard limit was reported already; a hung one must not hold the
        # shutdown (its thread, if it is one, is a daemon).
        if any(self._held.get(lease_id) is None or self._held[lease_id].state is not LeaseState.TIMED_OUT
               for lease_id in self._running_tasks.values()):
            return False
        if not self._connected():
            return True
        with self._outstanding_lock:
            return self._outstanding[self._connection] <= 0

    def _connected(self) -> bool:
        return self._connection is not None and not self._connection.closed.is_set()

    def _drain_wake(self) -> None:
        # Empty the pipe, then clear the flag, then (in run) empty the inbox: an event
        # posted before the clear is in the inbox, one posted after writes a new wake-up.
        drain_pipe(self._wake_r)
        self._wake_pending = False

    def _on_signal(self, signum, frame) -> None:
        # Runs on the main thread between two steps of the loop: only note it.
        self._signals += 1
        self._inbox.append(("signal", signum))

    def _close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()
            connection.closed.wait(5)
        self.pool.stop(cold=self._phase is Phase.COLD)
        self._selector.close()
        self._closed = True
        os.close(self._wake_r)
        os.close(self._wake_w)

    # ---- events ----------------------------------------------------------------------------

    def _handle(self, event: tuple) -> None:
        kind = event[0]
        if kind == "push":
            self._on_push_frame(event[1], event[2])
        elif kind == "done":
            self._on_done(event[1], event[2], event[3])
        elif kind == "died":
            self._on_died(event[1], event[2], event[3])
        elif kind == "reply":
            self._on_outcome_reply(*event[1:])
        elif kind == "wake":
            pass  # only to look again (a warm shutdown may have drained)
        elif kind == "heartbeat_ok":
            self._on_heartbeat_reply(event[1], event[2])
        elif kind == "connected":
            self._on_connected(event[1])
        elif kind == "consume_reply":
            self._on_consume_reply(event[1], event[2])
        elif kind == "fatal":
            self._connecting = False
            logger.critical("%s", event[1])
            if self._phase is not Phase.COLD:
                self._phase = Phase.COLD
                self.pool.stop(cold=True)
        elif kind == "disconnected":
            self._on_disconnected(event[1], event[2])
        elif kind == "signal":
            self._on_shutdown_signal(event[1])

    def _on_shutdown_signal(self, signum: int) -> None:
        name = signal.Signals(signum).name
        if self._phase is Phase.RUNNING:
            logger.warning("worker: Warm shutdown (%s): finishing %d running task(s); "
                           "send it again for a cold shutdown", name, len(self._running_tasks))
            self._phase = Phase.WARM
            self._stop_consuming()
        else:
            logger.warning("worker: Cold shutdown (%s): abandoning %d running task(s) "
                           "(the broker queues them again)", name, len(self._running_tasks))
            self._phase = Phase.COLD
            self.pool.stop(cold=True)

    # ---- the connection ----------------------------------------------------------------------

    def _start_connecting(self) -> None:
        if self._connecting or self._phase is not Phase.RUNNING:
            return
        self._connecting = True
        threading.Thread(target=self._connect_loop, name="brokerd-connect", daemon=True).start()

    def _connect_loop(self) -> None:
        delay = _RECONNECT_FIRST_S
        announced = False
        while self._phase is Phase.RUNNING:
            try:
                # Driven by this loop (no I/O thread): deliveries and replies are handled
                # on the main thread without a hand-over per frame.
                connection = Connection.open(self.app.address, security=self.app.security,
                                             client_name=self.hostname, on_push=self._on_push,
                                             on_close=self._on_connection_closed, threaded=False)
            except BrokerUnavailable as e:
                if not announced:
                    logger.error("consumer: Cannot connect to brokerd at %s: %s. Trying again...",
                                 self.app.address, e)
                    announced = True
                time.sleep(delay)
                delay = min(delay * 2, _RECONNECT_MAX_S)
                continue
            except BrokerError as e:  # refused: a bad token; retrying will not help
                self.post(("fatal", f"consumer: brokerd at {self.app.address} refused the worker: {e}"))
                return
            self.post(("connected", connection))
            return

    def _on_connection_closed(self, connection: Connection, error) -> None:  # main thread
        self._inbox.append(("disconnected", connection, error))

    def _on_connected(self, connection: Connection) -> None:
        self._connecting = False
        if self._phase is not Phase.RUNNING:
            connection.close()
            return
        self._connection = connection
        envelope = pb.Envelope()
        envelope.consume.queues.extend(self.queues)
        envelope.consume.prefetch = self.prefetch
        envelope.consume.lease_ms = self.requested_lease_ms

        def on_reply(reply, error):
            if reply is not None:
                self.post(("consume_reply", connection, reply))

        try:
            connection.request(envelope, on_reply)
        except BrokerError as e:  # it closed already (its "disconnected" may have come first)
            self._connection = None
            logger.warning("consumer: Connection to brokerd lost at once (%s). Reconnecting...", e)
            self._start_connecting()
            return
        logger.info("Connected to brokerd://%s (role %s)", self.app.address, connection.role or "admin")

    def _on_consume_reply(self, connection: Connection, reply: pb.Envelope) -> None:
        if connection is not self._connection:
            return
        refusal = reply_error(reply)
        if refusal is None:
            self.lease_ms = reply.consume_ok.lease_ms or self.lease_ms
            # The first heartbeat within a third of the lease in force, not of the default.
            self._next_heartbeat = min(self._next_heartbeat, time.monotonic() + self.lease_ms / 3000)
        elif refusal.code in ("PERMISSION_DENIED", "INVALID_ARGUMENT"):
            self._handle(("fatal", f"consumer: brokerd refused to deliver to this worker: {refusal}"))
        else:  # e.g. INTERNAL while the broker's disk is full: try again on a new connection
            logger.error("consumer: brokerd refused to deliver (%s); reconnecting", refusal)
            connection.close()

    def _on_disconnected(self, connection: Connection | None, error) -> None:
        if connection is not None and connection is not self._connection:
            with self._outstanding_lock:
                self._outstanding.pop(connection, None)
            return  # an older connection's late notice
        self._connection = None
        # Every lease died with the connection: the broker queues the tasks again. What
        # runs goes on, but its outcome cannot be reported (a redelivery runs it again).
        dropped = 0
        for lease_id in list(self._held):
            held = self._held[lease_id]
            if held.state is LeaseState.RUNNING:
                held.state = LeaseState.LOST
            elif held.state is LeaseState.BUFFERED:
                del self._held[lease_id]
                dropped += 1
        self._buffer.clear()
        with self._outstanding_lock:
            self._outstanding.pop(connection, None)
        if self._phase is Phase.RUNNING:
            logger.warning("consumer: Connection to brokerd lost (%s); %d unstarted task(s) go back to the "
                           "queue. Reconnecting...", error, dropped)
            self._start_connecting()

    def _send(self, envelope: pb.Envelope, held: HeldLease | None = None, counted: bool = True) -> bool:
        """Queues a request on the lease's connection (or the current one); it leaves with
        the others of this loop turn in one write (``_flush``)."""
        connection = held.connection if held is not None else self._connection
        if connection is None or connection.closed.is_set():
            return False

        def on_reply(reply, error):  # inside the connection's on_events()
            with self._outstanding_lock:
                self._outstanding[connection] -= 1
            if error is not None or reply is None or reply.WhichOneof("body") == "error":
                self.post(("reply", envelope, reply, error))
            elif self._phase is not Phase.RUNNING:
                self.post(("wake",))

        if counted:
            with self._outstanding_lock:
                self._outstanding[connection] += 1
        try:
            connection.request(envelope, on_reply if counted else None, corked=True)
        except BrokerError:
            if counted:
                with self._outstanding_lock:
                    self._outstanding[connection] -= 1
            return False
        self._to_flush.add(connection)
        return True

    def _flush(self) -> None:
        connections, self._to_flush = self._to_flush, set()
        for connection in connections:
            connection.flush()

    # ---- deliveries --------------------------------------------------------------------------

    def _on_push_frame(self, connection: Connection, envelope: pb.Envelope) -> None:
        kind = envelope.WhichOneof("body")
        if kind == "delivery":
            self._on_delivery(connection, envelope.delivery)
        elif kind == "revoke_notice":
            self._on_revoked(envelope.revoke_notice.task_id, envelope.revoke_notice.lease_id)

    def _on_delivery(self, connection: Connection, delivery: pb.Delivery) -> None:
        job = Job(delivery.lease_id, delivery.task_id, delivery.name, delivery.args_json, delivery.kwargs_json,
                  delivery.queue, delivery.attempt, delivery.retries, delivery.max_retries, delivery.priority,
                  self.hostname, delivery.time_limit_ms, delivery.soft_time_limit_ms)
        held = HeldLease(job, connection)
        if connection is not self._connection:
            return  # from a connection already given up: that lease is void
        self._held[job.lease_id] = held
        if self._phase is not Phase.RUNNING:
            self._release(held, "shutting down")
            return
        # The broker never delivers a task again while a lease on it is valid: an older
        # lease of this task that this connection still holds has expired.
        for older in [h for h in self._held.values()
                      if h.job.task_id == job.task_id and h.job.lease_id != job.lease_id and h.connection is connection]:
            if older.state is LeaseState.BUFFERED:
                self._release(older, None)  # frees its credit (answered STALE_LEASE)
            elif older.state is LeaseState.RUNNING:
                logger.warning("Task %s[%s]: lease expired while running; its outcome will be dropped",
                               job.name, job.task_id)
                older.state = LeaseState.LOST
        logger.info("Task %s[%s] received", job.name, job.task_id)
        self._buffer.append(job.lease_id)

    def _on_revoked(self, task_id: str, lease_id: int) -> None:
        held = self._held.get(lease_id)
        if held is None:
            return
        if held.state is LeaseState.TIMED_OUT:
            return  # its FAILURE was reported already
        logger.info("Discarding revoked task: %s[%s]", held.job.name, task_id)
        if held.state is LeaseState.BUFFERED:
            del self._held[lease_id]
            self._remove_from_buffer(lease_id)
        else:
            held.state = LeaseState.REVOKED  # the broker freed its credit; report nothing

    def _remove_from_buffer(self, lease_id: int) -> None:
        try:
            self._buffer.remove(lease_id)
        except ValueError:
            pass

    def _dispatch(self) -> None:
        if self._phase is Phase.COLD or not self._buffer:
            return
        free = [slot for slot in self.pool.slots if slot.idle and not slot.dead]
        if not free:
            return
        waiting = collections.deque()
        while free and self._buffer:
            lease_id = self._buffer.popleft()
            held = self._held.get(lease_id)
            if held is None or held.state is not LeaseState.BUFFERED:
                continue
            if held.job.task_id in self._running_tasks:
                waiting.append(lease_id)  # an earlier run of this id is still going here
                continue
            soft, hard = self._limits(held.job)
            if held.job.time_limit_ms > 0:
                # The producer's limit: the broker counts it from the delivery and ends the
                # task then, so the time spent waiting here counts too.
                hard -= time.monotonic() - held.received
                if hard <= 0:
                    self._expired_before_start(held)
                    continue
                if soft is not None and soft >= hard:
                    soft = None
            slot = free.pop(0)
            held.state = LeaseState.RUNNING
            self._running_tasks[held.job.task_id] = lease_id
            slot.start_limits(soft, hard)
            self.pool.submit(slot, held.job)
        waiting.extend(self._buffer)
        self._buffer = waiting

    # ---- outcomes ----------------------------------------------------------------------------

    def _on_done(self, slot, job: Job, outcome: tuple) -> None:
        if slot.jobs and slot.jobs[0] is job:  # the thread pool reports without popping
            slot.jobs.popleft()
            slot.clear_limits()
        elif not slot.jobs:
            slot.clear_limits()
        held = self._finish_run(job)
        kind = outcome[0]
        if held is not None and held.state is LeaseState.TIMED_OUT:
            logger.warning("Task %s[%s] finished after its hard time limit: outcome dropped (TimeLimitExceeded "
                           "was reported)", job.name, job.task_id)
            return
        if held is None or held.state is not LeaseState.RUNNING:
            why = "revoked" if held is not None and held.state is LeaseState.REVOKED else "its lease was lost"
            logger.warning("Task %s[%s] finished but %s: outcome dropped (the broker has given it to "
                           "another run)", job.name, job.task_id, why)
            if held is not None and held.state is LeaseState.LOST:
                self._release(held, None)  # frees the credit of an expired lease; answered STALE_LEASE
            return
        envelope = pb.Envelope()
        complete = envelope.complete
        complete.task_id = job.task_id
        complete.lease_id = job.lease_id
        if kind == "success":
            _, result_json, runtime = outcome
            complete.success.result_json = result_json
            self.completed += 1
            logger.info("Task %s[%s] succeeded in %.6fs: %s", job.name, job.task_id, runtime,
                        _shorten(result_json))
        elif kind == "retry":
            _, countdown_ms, error_type, message, traceback, runtime, max_retries = outcome
            complete.retry.countdown_ms = countdown_ms
            if max_retries is not None:
                complete.retry.max_retries = max_retries
            _fill_error(complete.retry.reason, error_type, message, traceback)
            when = f"in {countdown_ms / 1000:g}s" if countdown_ms else "after the retry backoff"
            logger.info("Task %s[%s] retry: Retry %s: %s: %s", job.name, job.task_id, when, error_type, message)
        else:
            _, error_type, message, traceback, final, runtime, max_retries = outcome
            _fill_error(complete.failure.error, error_type, message, traceback)
            complete.failure.final = final  # every failure outcome is final; retries come as "retry"
            self.failed += 1
            logger.error("Task %s[%s] raised unexpected: %s: %s\n%s", job.name, job.task_id, error_type,
                         message, traceback.rstrip() or "(no traceback)")
        if not self._send(envelope, held):
            logger.warning("Task %s[%s]: outcome not reported, the connection it came on is gone; "
                           "the broker runs it again", job.name, job.task_id)

    def _on_died(self, slot, jobs: list[Job], description: str) -> None:
        slot.clear_limits()
        if not jobs:
            logger.error("Pool process %s while idle; starting another", description)
        for position, job in enumerate(jobs):
            held = self._finish_run(job)
            if held is not None and held.state is LeaseState.TIMED_OUT:
                logger.info("Pool process %s, stopped at the hard time limit of task %s[%s]; starting another",
                            description, job.name, job.task_id)
                continue
            if position == 0 and job.attempt - job.retries >= WORKER_LOST_ATTEMPTS:
                # It took a pool process with it on every delivery: a poison task. End it,
                # as Celery ends a task whose worker was lost, instead of forever.
                logger.error("Pool process %s while running task %s[%s], on its delivery %d: the task "
                             "ends FAILURE (WorkerLostError)", description, job.name, job.task_id, job.attempt)
                if held is not None and held.state is LeaseState.RUNNING:
                    self._fail_final(held, "WorkerLostError",
                                     f"the pool process running it died ({description}) on {job.attempt} deliveries")
                continue
            if position == 0:
                logger.error("Pool process %s while running task %s[%s]; the task goes back to the queue",
                             description, job.name, job.task_id)
            if held is not None and held.state in (LeaseState.RUNNING, LeaseState.LOST):
                self._release(held, None if position == 0 else "its pool process died before it started")
        if self._phase is Phase.RUNNING:
            self.pool.respawn(slot)

    def _fail_final(self, held: HeldLease, error_type: str, message: str) -> None:
        envelope = pb.Envelope()
        envelope.complete.task_id = held.job.task_id
        envelope.complete.lease_id = held.job.lease_id
        _fill_error(envelope.complete.failure.error, error_type, message, "")
        envelope.complete.failure.final = True
        self.failed += 1
        self._send(envelope, held)

    def _finish_run(self, job: Job) -> HeldLease | None:
        if self._running_tasks.get(job.task_id) == job.lease_id:
            del self._running_tasks[job.task_id]
        return self._held.pop(job.lease_id, None)

    def _release(self, held: HeldLease, why: str | None) -> None:
        self._held.pop(held.job.lease_id, None)
        self._remove_from_buffer(held.job.lease_id)
        if why:
            logger.info("Task %s[%s] given back to the queue (%s)", held.job.name, held.job.task_id, why)
        envelope = pb.Envelope()
        envelope.release.task_id = held.job.task_id
        envelope.release.lease_id = held.job.lease_id
        self._send(envelope, held)

    def _on_outcome_reply(self, envelope: pb.Envelope, reply, error) -> None:
        if error is not None or reply is None:
            return  # the connection broke: the broker requeued the task
        refusal = reply_error(reply)
        if refusal is None:
            return
        body = envelope.WhichOneof("body")
        message = getattr(envelope, body)
        if refusal.code == "STALE_LEASE":
            if body == "complete" and message.HasField("failure") and message.failure.error.type == "TimeLimitExceeded":
                # The broker ends a task at the producer's time limit too, usually first.
                logger.info("Task %s: the broker had already ended it at its time limit", message.task_id)
            elif body == "complete":
                logger.warning("Task %s: outcome dropped by the broker: %s", message.task_id, refusal)
            return  # expected for a release of a lease the broker had already taken back
        logger.error("brokerd refused %s for task %s: %s", body, message.task_id, refusal)

    # ---- time limits --------------------------------------------------------------------------

    def _limits(self, job: Job) -> tuple[float | None, float | None]:
        """(soft, hard) seconds for this run: each from the delivery when the producer gave
        it (apply_async), else the task's own, else the worker's defaults. A soft limit at
        or past the hard one would never be seen: dropped."""
        task = self.app.tasks.get(job.name)

        def first_given(delivery_ms: int, task_value: float | None, worker_value: float | None) -> float | None:
            if delivery_ms > 0:
                return delivery_ms / 1000
            return task_value if task_value is not None else worker_value

        soft = first_given(job.soft_time_limit_ms, task.soft_time_limit if task else None, self.soft_time_limit)
        hard = first_given(job.time_limit_ms, task.time_limit if task else None, self.time_limit)
        if soft is not None and hard is not None and soft >= hard:
            soft = None
        return soft, hard

    def _expired_before_start(self, held: HeldLease) -> None:
        """The producer's hard limit passed while the task waited in the prefetch buffer:
        reported FAILURE without running it (the broker may have ended it already)."""
        job = held.job
        self._held.pop(job.lease_id, None)
        limit = job.time_limit_ms / 1000
        logger.error("Hard time limit (%ss) of %s[%s] passed before it started (waiting for a free pool slot): "
                     "the task ends FAILURE (TimeLimitExceeded)", f"{limit:g}", job.name, job.task_id)
        self._fail_final(held, "TimeLimitExceeded", f"task {job.name}[{job.task_id}] waited past its time limit "
                                                    f"of {limit:g} s before it started")

    def _limit_deadline(self) -> float | None:
        deadlines = [d for slot in self.pool.slots if slot.jobs
                     for d in ((None if slot.soft_sent else slot.soft_deadline),
                               (None if slot.hard_sent else slot.hard_deadline)) if d is not None]
        return min(deadlines) if deadlines else None

    def _enforce_time_limits(self) -> None:
        now = time.monotonic()
        for slot in self.pool.slots:
            if not slot.jobs:
                continue
            job = slot.jobs[0]
            if slot.soft_deadline is not None and not slot.soft_sent and now >= slot.soft_deadline:
                slot.soft_sent = True
                if self.pool.soft_interrupt(slot):
                    logger.warning("Soft time limit exceeded for %s[%s]: SoftTimeLimitExceeded raised in the task",
                                   job.name, job.task_id)
                else:
                    logger.warning("Soft time limit exceeded for %s[%s]; a thread cannot be interrupted: it runs "
                                   "on until its hard limit", job.name, job.task_id)
            if slot.hard_deadline is not None and not slot.hard_sent and now >= slot.hard_deadline:
                slot.hard_sent = True
                self._hard_limit(slot, job)

    def _hard_limit(self, slot, job: Job) -> None:
        held = self._held.get(job.lease_id)
        limit = self._limits(job)[1]
        logger.error("Hard time limit (%ss) exceeded for %s[%s]: the task ends FAILURE (TimeLimitExceeded)",
                     f"{limit:g}", job.name, job.task_id)
        if held is not None and held.state is LeaseState.RUNNING:
            # Reported now and heartbeated no more, whatever the stop below achieves.
            held.state = LeaseState.TIMED_OUT
            self._fail_final(held, "TimeLimitExceeded", f"task {job.name}[{job.task_id}] ran past its time limit "
                                                        f"of {limit:g} s")
        if not self.pool.hard_stop(slot):
            logger.warning("Task %s[%s] runs on in its thread (threads cannot be killed); its slot has a new "
                           "thread", job.name, job.task_id)

    # ---- heartbeats --------------------------------------------------------------------------

    def _heartbeat_if_due(self) -> None:
        now = time.monotonic()
        if now < self._next_heartbeat:
            return
        self._next_heartbeat = now + self.lease_ms / 3000
        if not self._connected():
            return
        leases = {lease_id: held.job.task_id for lease_id, held in self._held.items()
                  if held.state in (LeaseState.BUFFERED, LeaseState.RUNNING)
                  and held.connection is self._connection}
        if not leases:
            return
        envelope = pb.Envelope()
        envelope.heartbeat.task_ids.extend(sorted(set(leases.values())))

        def on_reply(reply, error):
            if reply is not None:
                self.post(("heartbeat_ok", leases, reply))

        try:
            self._connection.request(envelope, on_reply)
        except BrokerError:
            pass

    def _on_heartbeat_reply(self, leases: dict[int, str], reply: pb.Envelope) -> None:
        refusal = reply_error(reply)
        if refusal is not None:
            logger.error("brokerd refused a heartbeat: %s", refusal)
            return
        lost = set(reply.heartbeat_ok.lost_task_ids)
        for lease_id, task_id in leases.items():
            held = self._held.get(lease_id)
            if task_id not in lost or held is None:
                continue
            if held.state is LeaseState.BUFFERED:
                logger.warning("Task %s[%s]: lease lost before it started; dropped", held.job.name, task_id)
                self._release(held, None)
            elif held.state is LeaseState.RUNNING:
                logger.warning("Task %s[%s]: lease lost while running; its outcome will be dropped",
                               held.job.name, task_id)
                held.state = LeaseState.LOST

    # ---- shutdown ------------------------------------------------------------------------------

    def _stop_consuming(self) -> None:
        if self._connected():
            envelope = pb.Envelope()
            envelope.consume.queues.extend(self.queues)
            envelope.consume.prefetch = 0  # pause: nothing more is delivered
            envelope.consume.lease_ms = self.requested_lease_ms
            self._send(envelope, counted=False)
        for lease_id in list(self._buffer):
            held = self._held.get(lease_id)
            if held is not None and held.state is LeaseState.BUFFERED:
                self._release(held, "warm shutdown")
        self._buffer.clear()


def _fill_error(error: pb.TaskError, error_type: str, message: str, traceback: str) -> None:
    error.type = error_type
    error.message = message
    error.traceback = traceback


def _shorten(text: str) -> str:
    return text if len(text) <= _LOG_RESULT_CHARS else text[:_LOG_RESULT_CHARS] + "..."
