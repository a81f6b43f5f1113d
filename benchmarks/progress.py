"""Progress of a benchmark run on stderr, so that minutes of timing are never silent: a line as
each step starts, then, while it runs, a live line on a terminal (redrawn) or a status line every
few seconds off one (CI logs, pipes). The report itself goes to stdout at the end."""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import Any, TextIO

INTERVAL = float(os.environ.get("VETGRAD_PROGRESS_INTERVAL", "5"))  # seconds, off a terminal
LIVE = 0.5  # seconds between redraws on a terminal


class Heartbeat:
    """``say(step)`` starts a step (one line); the timer tells how long it has run."""

    def __init__(self, stream: TextIO | None = None, interval: float = INTERVAL) -> None:
        self.stream = stream or sys.stderr
        self.live = bool(getattr(self.stream, "isatty", lambda: False)())
        self.interval = LIVE if self.live else interval
        self.start = self.since = time.perf_counter()
        self.step = ""
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._timer: threading.Thread | None = None

    def _stamp(self) -> str:
        return f"[{time.perf_counter() - self.start:6.1f} s]"

    def say(self, step: str) -> None:
        """A new step: one line, kept."""
        with self._lock:
            self.step, self.since = step, time.perf_counter()
            self._write(f"{self._stamp()} {step}\n")

    def _write(self, text: str) -> None:
        self.stream.write(("\r\x1b[K" if self.live else "") + text)
        self.stream.flush()

    def _beat(self) -> None:
        while not self._stop.wait(self.interval):
            with self._lock:
                if not self.step:
                    continue
                running = f"{self._stamp()} … {self.step} ({time.perf_counter() - self.since:.0f} s)"
                self._write(running if self.live else running + "\n")

    def __enter__(self) -> Heartbeat:
        self._timer = threading.Thread(target=self._beat, name="benchmarks-progress", daemon=True)
        self._timer.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        if self._timer is not None:
            self._timer.join()
        if self.live:
            self._write("")
