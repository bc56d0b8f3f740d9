"""The pools that run jobs: prefork processes (the default: CPU-bound Python tasks use
every core) and threads (I/O-bound tasks, or code that cannot fork).

Both have the same shape for the worker's main loop: ``slots``, each running at most one
job; ``submit(slot, job)``; and events reported back as ``("done", slot, outcome)`` or
``("died", slot, description)``. The process pool reports through the selector of the
main loop (a child's pipe and its exit sentinel); the thread pool through ``post``.
"""
from __future__ import annotations

import collections
import logging
import multiprocessing
import os
import queue
import selectors
import signal
import threading
import time
from typing import Callable

from brokerd.worker.execution import Job, run_job

logger = logging.getLogger("brokerd.worker")

# A child that dies this soon after its start without having run anything makes the
# next start wait, doubling up to the maximum: a broken import must not spin a core.
_RESPAWN_PAUSE_MIN_S = 0.1
_RESPAWN_PAUSE_MAX_S = 5.0
_STOP_GRACE_S = 10.0


class Slot:
    def __init__(self, index: int):
        self.index = index
        # One job at a time (Celery's -O fair): a job waits in the worker, not behind a long
        # task in one pool process while another is idle, and a warm shutdown gives back
        # everything not yet started. A deque so that a death reports what it held.
        self.jobs: collections.deque[Job] = collections.deque()
        self.dead = False   # its process exited and is not replaced yet
        # The running job's time limits (monotonic deadlines; None: no limit) and whether
        # each has been acted on.
        self.soft_deadline: float | None = None
        self.hard_deadline: float | None = None
        self.soft_sent = False
        self.hard_sent = False

    def start_limits(self, soft_s: float | None, hard_s: float | None) -> None:
        now = time.monotonic()
        self.soft_deadline = None if soft_s is None else now + soft_s
        self.hard_deadline = None if hard_s is None else now + hard_s
        self.soft_sent = self.hard_sent = False

    def clear_limits(self) -> None:
        self.soft_deadline = self.hard_deadline = None

    @property
    def idle(self) -> bool:
        return not self.jobs


class ProcessSlot(Slot):
    def __init__(self, index: int):
        super().__init__(index)
        self.process = None
        self.connection = None
        self.spawned = 0.0
        self.ran_anything = False
        self.respawn_at: float | None = None  # monotonic time of a delayed respawn


class ProcessPool:
    def __init__(self, app_spec: str, concurrency: int, loglevel: str, logfile: str | None,
                 preload: list[str]):
        self._context = multiprocessing.get_context("forkserver")
        # Children fork from a server that imported the task module once, before any of
        # the worker's threads existed.
        self._context.set_forkserver_preload(["brokerd.worker.child", *preload])
        self._app_spec = app_spec
        self._loglevel = loglevel
        self._logfile = logfile
        self.slots = [ProcessSlot(i + 1) for i in range(concurrency)]
        self._selector: selectors.BaseSelector | None = None
        self._respawn_pause = _RESPAWN_PAUSE_MIN_S
        self._stopping = False

    def start(self, selector: selectors.BaseSelector, post: Callable) -> None:
        self._selector = selector
        # The fork server starts with the first child and inherits ignored SIGINT and
        # SIGTERM through its exec: a signal to the whole process group (systemd's
        # KillMode=control-group, Ctrl-C in a terminal) reaches the worker's main process,
        # which decides, and not the server, whose death would kill every child with it.
        # SIGUSR1 (the soft time limit) too: a child inherits it ignored until its handler is
        # installed, so an early signal cannot kill it.
        previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1)}
        try:
            for slot in self.slots:
                self._spawn_or_retry(slot)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _spawn_or_retry(self, slot: ProcessSlot) -> None:
        try:
            self._spawn(slot)
        except OSError as e:  # e.g. the fork server died (OOM kill): try again later
            logger.error("Starting pool process %d failed: %s; trying again in %.1f s", slot.index, e,
                         self._respawn_pause)
            slot.dead = True
            slot.respawn_at = time.monotonic() + self._respawn_pause
            self._respawn_pause = min(self._respawn_pause * 2, _RESPAWN_PAUSE_MAX_S)

    def _spawn(self, slot: ProcessSlot) -> None:
        from brokerd.worker.child import child_main
        parent_end, child_end = self._context.Pipe()
        process = self._context.Process(target=child_main, name=f"ForkPoolWorker-{slot.index}",
                                        args=(self._app_spec, child_end, self._loglevel, self._logfile),
                                        daemon=True)
        process.start()
        child_end.close()
        slot.process, slot.connection = process, parent_end
        slot.spawned = time.monotonic()
        slot.ran_anything = False
        slot.dead = False
        slot.respawn_at = None
        self._selector.register(parent_end, selectors.EVENT_READ, ("result", slot))
        self._selector.register(process.sentinel, selectors.EVENT_READ, ("exit", slot))

    def describe(self, slot: ProcessSlot) -> str:
        return f"{slot.process.name} (pid {slot.process.pid})"

    def submit(self, slot: ProcessSlot, job: Job) -> None:
        slot.jobs.append(job)
        slot.ran_anything = True
        try:
            slot.connection.send(job)
        except OSError:
            pass  # the child is gone: its exit sentinel reports it

    def on_ready(self, tag: str, slot: ProcessSlot) -> list[tuple]:
        """Handles a readable pipe or sentinel; returns the events it stands for."""
        if tag == "result":
            try:
                outcome = slot.connection.recv()
            except (EOFError, OSError):
                self._selector.unregister(slot.connection)
                return []  # the sentinel follows
            return [("done", slot, slot.jobs.popleft(), outcome)]
        slot.dead = True
        slot.process.join(timeout=1)
        code = slot.process.exitcode
        description = f"{slot.process.name} (pid {slot.process.pid}) exited with " + (
            f"signal {-code}" if code is not None and code < 0 else f"exit code {code}")
        for registered in (slot.connection, slot.process.sentinel):
            try:
                self._selector.unregister(registered)
            except (KeyError, ValueError):
                pass
        slot.connection.close()
        jobs = list(slot.jobs)  # the first was running; the rest never started
        slot.jobs.clear()
        quick_death = not slot.ran_anything and time.monotonic() - slot.spawned < 1.0
        if quick_death:
            slot.respawn_at = time.monotonic() + self._respawn_pause
            self._respawn_pause = min(self._respawn_pause * 2, _RESPAWN_PAUSE_MAX_S)
        else:
            slot.respawn_at = time.monotonic()
            self._respawn_pause = _RESPAWN_PAUSE_MIN_S
        return [("died", slot, jobs, description)]

    def respawn(self, slot: ProcessSlot) -> None:
        """Starts a process for the slot now, or at its delayed time (``tick``)."""
        if self._stopping:
            return
        if slot.respawn_at is None or slot.respawn_at <= time.monotonic():
            self._spawn_or_retry(slot)

    def tick(self) -> None:
        """Starts the processes whose delayed respawn is due (called every loop turn)."""
        if self._stopping:
            return
        now = time.monotonic()
        for slot in self.slots:
            if slot.dead and slot.respawn_at is not None and slot.respawn_at <= now:
                self._spawn_or_retry(slot)

    def next_deadline(self) -> float | None:
        times = [slot.respawn_at for slot in self.slots if slot.dead and slot.respawn_at is not None]
        return min(times) if times else None

    def soft_interrupt(self, slot: ProcessSlot) -> bool:
        """Raises SoftTimeLimitExceeded in the slot's running task."""
        from brokerd.worker.child import SOFT_LIMIT_SIGNAL
        try:
            os.kill(slot.process.pid, SOFT_LIMIT_SIGNAL)
        except (ProcessLookupError, TypeError):
            return False
        return True

    def hard_stop(self, slot: ProcessSlot) -> bool:
        """Kills the slot's process (its exit sentinel then reports it, and it is replaced).
        The slot takes no job until then, even if a result was already in the pipe."""
        slot.dead = True
        slot.respawn_at = None  # set when the sentinel reports the exit
        slot.clear_limits()
        if slot.process is not None and slot.process.is_alive():
            slot.process.kill()
        return True

    def stop(self, cold: bool) -> None:
        """Warm: children finish their job and exit when their pipe closes. Cold: killed."""
        self._stopping = True
        for slot in self.slots:
            if slot.process is None:
                continue
            if cold:
                slot.process.kill()
            try:
                slot.connection.close()
            except OSError:
                pass
        # By now (a warm stop waits for running tasks first) the children are idle and exit
        # at the end of their pipe; one that does not within the grace time is killed.
        deadline = time.monotonic() + _STOP_GRACE_S
        for slot in self.slots:
            if slot.process is not None:
                slot.process.join(timeout=max(0.0, deadline - time.monotonic()))
                if slot.process.is_alive():
                    slot.process.kill()
                    slot.process.join(timeout=1)


class ThreadPool:
    def __init__(self, app, concurrency: int):
        self._app = app
        self.slots = [Slot(i + 1) for i in range(concurrency)]
        self._jobs: list[queue.SimpleQueue] = [queue.SimpleQueue() for _ in self.slots]
        self._threads: list[threading.Thread] = []  # the current thread of each slot, by index
        self._abandoned: list[threading.Thread] = []  # threads left running a task past its hard limit
        self._post: Callable | None = None

    def start(self, selector, post: Callable) -> None:
        self._post = post
        for slot, jobs in zip(self.slots, self._jobs):
            thread = threading.Thread(target=self._run, args=(slot, jobs), name=f"PoolThread-{slot.index}",
                                      daemon=True)
            thread.start()
            self._threads.append(thread)

    def describe(self, slot: Slot) -> str:
        return f"PoolThread-{slot.index}"

    def _run(self, slot: Slot, jobs: queue.SimpleQueue) -> None:
        while True:
            job = jobs.get()
            if job is None:
                return
            try:
                outcome = run_job(self._app, job)
            except BaseException as e:  # noqa: BLE001 - run_job catches everything; belt and braces
                outcome = ("failure", type(e).__name__, str(e), "", True, 0.0, None)
            self._post(("done", slot, job, outcome))

    def submit(self, slot: Slot, job: Job) -> None:
        slot.jobs.append(job)
        self._jobs[slot.index - 1].put(job)

    def on_ready(self, tag, slot) -> list[tuple]:
        return []

    def respawn(self, slot) -> None:
        pass

    def tick(self) -> None:
        pass

    def next_deadline(self) -> float | None:
        return None

    def soft_interrupt(self, slot) -> bool:
        return False  # a thread cannot be interrupted from outside

    def hard_stop(self, slot) -> bool:
        """Threads cannot be killed: the task goes on in its thread (its outcome will be
        dropped) and the slot takes a new thread, so the pool keeps its size."""
        abandoned = self._jobs[slot.index - 1]
        abandoned.put(None)  # the old thread ends after its task, if it ever returns
        self._abandoned.append(self._threads[slot.index - 1])
        jobs = queue.SimpleQueue()
        self._jobs[slot.index - 1] = jobs
        slot.jobs.clear()
        slot.clear_limits()
        thread = threading.Thread(target=self._run, args=(slot, jobs), name=f"PoolThread-{slot.index}",
                                  daemon=True)
        thread.start()
        self._threads[slot.index - 1] = thread
        return False

    def stop(self, cold: bool) -> None:
        for jobs in self._jobs:
            jobs.put(None)
        if not cold:
            # Only the slots' current threads: an abandoned one may run a hung task forever
            # (it is a daemon thread; it ends with the process).
            for thread in self._threads:
                thread.join()
