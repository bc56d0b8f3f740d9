"""Turns a Celery-style call (args, kwargs and ``apply_async`` options) into the wire
``TaskSpec``, checking what the broker would refuse before anything is sent.

Arguments and results are JSON (brokerd stores them as text any worker, C++ or Python,
can read): a value ``json`` cannot encode is a ``TypeError`` here, at the call, not a
surprise in the worker.
"""
from __future__ import annotations

import datetime
import json
import math
from typing import Any, Mapping, Sequence

from brokerd._wire import pb
from brokerd.ids import new_task_id

# The options apply_async/send_task take, beyond args and kwargs.
OPTION_NAMES = frozenset({
    "countdown", "eta", "priority", "queue", "task_id", "max_retries", "retry_backoff",
    "retry_backoff_max", "retry_jitter", "result_ttl", "time_limit", "soft_time_limit", "max_deliveries",
})
MAX_PRIORITY = 9
MAX_DELIVERIES = 1000
# The longest time limit the broker takes (task_rules.h: kMaxTimeLimitMs): a week.
MAX_TIME_LIMIT_S = 7 * 86_400


_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def dumps(value: Any, what: str) -> str:
    """Compact JSON; TypeError naming ``what`` for values JSON cannot hold (NaN too)."""
    try:
        return _ENCODER.encode(value)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{what} must be JSON-serialisable: {e}") from None


def _seconds(value: Any, what: str) -> float:
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise TypeError(f"{what} must be a number of seconds or a timedelta, not {value!r}")
    return float(value)


def _eta_ms(eta: Any) -> int:
    if isinstance(eta, datetime.datetime):
        if eta.tzinfo is None:
            eta = eta.astimezone()  # a naive datetime is local time, as in Celery
        return max(1, int(eta.timestamp() * 1000))
    return max(1, int(_seconds(eta, "eta") * 1000))


def build_spec(name: str, args: Sequence[Any] | None, kwargs: Mapping[str, Any] | None,
               options: Mapping[str, Any], spec: pb.TaskSpec | None = None) -> pb.TaskSpec:
    """Fills ``spec`` (a new TaskSpec when None) and returns it."""
    unknown = options.keys() - OPTION_NAMES
    if unknown:
        raise TypeError(f"unsupported option(s) {', '.join(sorted(unknown))}; "
                        f"brokerd takes {', '.join(sorted(OPTION_NAMES))}")
    if args is not None and not isinstance(args, (list, tuple)):
        raise TypeError(f"args must be a list or tuple, not {type(args).__name__}")
    if kwargs is not None and not isinstance(kwargs, Mapping):
        raise TypeError(f"kwargs must be a mapping, not {type(kwargs).__name__}")
    if spec is None:
        spec = pb.TaskSpec()
    spec.name = name
    spec.id = options.get("task_id") or new_task_id()
    spec.args_json = dumps(list(args) if args else [], "the arguments of " + name)
    spec.kwargs_json = dumps(kwargs, "the keyword arguments of " + name) if kwargs else "{}"
    if options.get("queue"):
        spec.queue = options["queue"]
    priority = options.get("priority")
    if priority is not None:
        if isinstance(priority, bool) or not isinstance(priority, int) or not 0 <= priority <= MAX_PRIORITY:
            raise ValueError(f"priority must be an integer 0..{MAX_PRIORITY} (9 runs first), not {priority!r}")
        spec.priority = priority
    if options.get("eta") is not None:
        spec.eta_ms = _eta_ms(options["eta"])
    elif options.get("countdown") is not None:
        countdown = _seconds(options["countdown"], "countdown")
        if countdown > 0:
            spec.countdown_ms = int(countdown * 1000)
    if options.get("result_ttl") is not None:
        ttl_ms = int(_seconds(options["result_ttl"], "result_ttl") * 1000)
        if ttl_ms <= 0:
            raise ValueError("result_ttl must be positive")
        spec.result_ttl_ms = ttl_ms
    if options.keys() & _RETRY_OPTIONS:
        _apply_retry_policy(spec.retry, options)
    _apply_time_limits(spec, options)
    max_deliveries = options.get("max_deliveries")
    if max_deliveries is not None:
        if (isinstance(max_deliveries, bool) or not isinstance(max_deliveries, int)
                or not 1 <= max_deliveries <= MAX_DELIVERIES):
            raise ValueError(f"max_deliveries must be an integer 1..{MAX_DELIVERIES} (None: the broker's "
                             f"setting), not {max_deliveries!r}")
        spec.max_deliveries = max_deliveries
    return spec


def _time_limit_ms(options: Mapping[str, Any], what: str) -> int:
    """``options[what]`` in ms; 0 when not given (None or 0: the worker's default applies)."""
    value = options.get(what)
    if value is None:
        return 0
    seconds = _seconds(value, what)
    if seconds < 0:
        raise ValueError(f"{what} must not be negative (seconds), not {value!r}")
    if seconds > MAX_TIME_LIMIT_S:
        raise ValueError(f"{what} must be at most {MAX_TIME_LIMIT_S} s (a week), not {value!r}")
    # A positive limit never rounds down to 0 (which would mean "none").
    return max(1, round(seconds * 1000)) if seconds > 0 else 0


def _apply_time_limits(spec: pb.TaskSpec, options: Mapping[str, Any]) -> None:
    hard_ms = _time_limit_ms(options, "time_limit")
    soft_ms = _time_limit_ms(options, "soft_time_limit")
    if hard_ms and soft_ms > hard_ms:
        raise ValueError(f"soft_time_limit ({options['soft_time_limit']!r} s) must not exceed "
                         f"time_limit ({options['time_limit']!r} s)")
    spec.time_limit_ms = hard_ms
    spec.soft_time_limit_ms = soft_ms


_RETRY_OPTIONS = frozenset({"max_retries", "retry_backoff", "retry_backoff_max", "retry_jitter"})


def _apply_retry_policy(policy: pb.RetryPolicy, options: Mapping[str, Any]) -> None:
    max_retries = options.get("max_retries")
    if max_retries is not None:
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or not 0 <= max_retries <= 1000:
            raise ValueError(f"max_retries must be an integer 0..1000, not {max_retries!r}")
        policy.max_retries = max_retries
    backoff = options.get("retry_backoff")
    if backoff is not None and backoff is not False:
        base_s = 1.0 if backoff is True else _seconds(backoff, "retry_backoff")
        policy.backoff_base_ms = max(1, int(base_s * 1000))
    backoff_max = options.get("retry_backoff_max")
    if backoff_max is not None:
        policy.backoff_max_ms = max(policy.backoff_base_ms if policy.HasField("backoff_base_ms") else 1000,
                                    int(_seconds(backoff_max, "retry_backoff_max") * 1000))
    jitter = options.get("retry_jitter")
    if jitter is not None:
        policy.jitter = bool(jitter)

