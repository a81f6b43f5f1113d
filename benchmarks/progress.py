"""Progress of a benchmark run on stderr, so that minutes of timing are never silent: a line as
each step starts, then, while it runs, a live line on a terminal (redrawn) or a status line every
few seconds off one (CI logs, pipes). The report itself goes to stdout at the end. The ticking is
vetgrad's one ticker (``package/_progress.py``)."""

from __future__ import annotations

import time
from typing import TextIO

from vetgrad._progress import INTERVAL, Ticker


class Heartbeat(Ticker):
    """``say(step)`` starts a step (one line); the timer tells how long it has run."""

    redraw = 0.5

    def __init__(self, stream: TextIO | None = None, interval: float = INTERVAL) -> None:
        super().__init__(stream, interval)
        self.since = self.start
        self.step = ""

    def _stamp(self) -> str:
        return f"[{time.perf_counter() - self.start:6.1f} s]"

    def say(self, step: str) -> None:
        """A new step: one line, kept."""
        with self._lock:
            self.step, self.since = step, time.perf_counter()
            self._write(f"{self._stamp()} {step}")

    def status(self) -> str | None:
        if not self.step:
            return None
        return f"{self._stamp()} … {self.step} ({time.perf_counter() - self.since:.0f} s)"
