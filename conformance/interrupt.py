"""SIGINT and SIGTERM stop a campaign between two steps instead of killing it: the handlers only
note the signal; the campaign checks :func:`requested` after each batch (and while it waits for
the engine's process) and ends with a partial report. Exit status 128 + the signal's number."""

from __future__ import annotations

import signal
from typing import Any

_received: list[int] = []


class Interrupted(BaseException):
    """A stop was requested by a signal (raised where a wait must end at once; a BaseException,
    so that no ``except Exception`` of the harness takes it for the engine's failure)."""


def _note(signum: int, frame: Any) -> None:
    _received.append(signum)


def install() -> None:
    """Note SIGINT and SIGTERM from now on (main thread only)."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _note)


def requested() -> bool:
    return bool(_received)


def signal_number() -> int | None:
    """The first signal received, or None."""
    return _received[0] if _received else None


def exit_status() -> int:
    """128 + the signal's number: 130 for SIGINT, 143 for SIGTERM (0 when there was none)."""
    return 128 + _received[0] if _received else 0


def request(signum: int = signal.SIGTERM) -> None:
    """Ask for a stop as a signal would (tests, and a worker told by its parent)."""
    _received.append(signum)


def reset() -> None:
    _received.clear()


def count() -> int:
    """How many signals were received (a second one means: stop now)."""
    return len(_received)
