"""Task ids made on the client, so an enqueue can be resent safely after a lost
connection (the broker treats a known id as already enqueued: protocol.md §5 Enqueue).

They are lowercase UUIDv7 (RFC 9562), time-ordered like the ids the server generates,
so listings that go "newest id first" stay newest first.
"""
import os
import random
import threading
import time
import uuid

_lock = threading.Lock()
# Ids need uniqueness, not secrecy: a generator seeded from the OS (and again in every
# forked child, so two processes never share a sequence) costs no system call per id.
_random = random.Random(os.urandom(16))
os.register_at_fork(after_in_child=lambda: _random.seed(os.urandom(16)))
_last_ms = 0
_counter = 0


def new_task_id() -> str:
    global _last_ms, _counter
    with _lock:
        now_ms = time.time_ns() // 1_000_000
        if now_ms <= _last_ms:
            # Same millisecond (or a clock step back): keep ids increasing with a counter
            # in the 12 "rand_a" bits, borrowing the next millisecond when it overflows.
            _counter += 1
            if _counter >= 1 << 12:
                _last_ms += 1
                _counter = 0
            now_ms = _last_ms
        else:
            _last_ms = now_ms
            _counter = _random.getrandbits(10)  # leaves room to count up
        counter = _counter
        rand_b = _random.getrandbits(62)
    value = (now_ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | counter << 64 | 0b10 << 62 | rand_b
    return str(uuid.UUID(int=value))
