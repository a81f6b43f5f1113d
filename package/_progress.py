"""A status line on stderr that never leaves minutes silent: redrawn in place on a terminal, one
line every few seconds off one (CI logs, pipes), by a timer thread; lines in between are kept.

The one ticker of vetgrad: a campaign's counts (``conformance/reporting/progress.py``) and the
benchmarks' steps (``benchmarks/progress.py``) are its subclasses, each saying only what its status
line is. Pure Python: nothing of the engine, nn or the harness.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import Any, TextIO, TypeVar

INTERVAL = float(os.environ.get("VETGRAD_PROGRESS_INTERVAL", "5"))  # seconds between lines off a terminal
CLEAR = "\r\x1b[K"  # back to the start of the line, and erase it

_T = TypeVar("_T", bound="Ticker")


class Ticker:
    """Use as a context manager (the timer runs inside ``with``). Subclasses give :meth:`status`
    and call :meth:`_write` for a line to keep, holding ``self._lock``. Thread-safe."""

    redraw = 0.2  # seconds between redraws of the live line on a terminal

    def __init__(self, stream: TextIO | None = None, interval: float = INTERVAL) -> None:
        self.stream = stream or sys.stderr
        self.live = bool(getattr(self.stream, "isatty", lambda: False)())
        self.interval = interval
        self.start = time.perf_counter()
        self._lock = threading.Lock()
        self._drawn = 0.0  # when the live line was last drawn
        self._stop = threading.Event()
        self._timer: threading.Thread | None = None

    def status(self) -> str | None:
        """The status line now; None while there is nothing to tell."""
        raise NotImplementedError

    def _draw(self) -> None:
        """Redraw the live line (on a terminal)."""
        line = self.status()
        if line is not None:
            self._drawn = time.perf_counter()
            self.stream.write(CLEAR + line)
        self.stream.flush()

    def _write(self, line: str) -> None:
        """A line that stays (on a terminal, above the live line, which is redrawn under it)."""
        if self.live:
            self.stream.write(CLEAR + line + "\n")
            self._draw()
        else:
            self.stream.write(line + "\n")
            self.stream.flush()

    def _beat(self) -> None:
        if self.live:
            self._draw()
        elif (line := self.status()) is not None:
            self._write(line)

    def _tick(self) -> None:
        while not self._stop.wait(self.redraw if self.live else self.interval):
            with self._lock:
                self._beat()

    def __enter__(self: _T) -> _T:
        self._timer = threading.Thread(target=self._tick, name="vetgrad-progress", daemon=True)
        self._timer.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        if self._timer is not None:
            self._timer.join()
        with self._lock:
            if self.live:
                self.stream.write(CLEAR)
                self.stream.flush()
