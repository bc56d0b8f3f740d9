"""Task states, with brokerd's names (see docs/protocol.md §4).

Celery's names map as follows: PENDING is QUEUED (or SCHEDULED for a countdown); an id
the broker never saw is not a state at all but ``TaskNotFound``.
"""
from brokerd._wire import pb

QUEUED = "QUEUED"
SCHEDULED = "SCHEDULED"
STARTED = "STARTED"
RETRY = "RETRY"
SUCCESS = "SUCCESS"
FAILURE = "FAILURE"
REVOKED = "REVOKED"

READY_STATES = frozenset({SUCCESS, FAILURE, REVOKED})
UNREADY_STATES = frozenset({QUEUED, SCHEDULED, STARTED, RETRY})
ALL_STATES = READY_STATES | UNREADY_STATES


def state_name(value: int) -> str:
    """The name of a ``TaskState`` enum value, e.g. ``SUCCESS`` (``UNKNOWN_<n>`` for a
    value a newer server may send)."""
    try:
        return pb.TaskState.Name(value)
    except ValueError:
        return f"UNKNOWN_{value}"
