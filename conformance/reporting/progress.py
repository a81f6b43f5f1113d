"""Progress of a campaign on stderr, for any number of worker processes: a live line on a
terminal, a one-line status every few seconds otherwise (CI logs, pipes), and each new kind of
finding in one line the moment it is found (the full, shrunk list still comes at the end).

A kind of finding is its level, op and cause (or kind, when no cause is named): a buggy engine
fails in every graph, and one line per graph would bury the first real bug. Only findings at or
below the chosen level are printed as they come (a torch convention is no news to a learner
checking ``--level math``); the report at the end has them all. The ticking is vetgrad's one
ticker (``package/_progress.py``).
"""

from __future__ import annotations

import time
from typing import Protocol, TextIO

from vetgrad._progress import INTERVAL, Ticker
from vetgrad.conformance.judging.levels import LEVELS, at_or_below
from vetgrad.conformance.judging.results import Finding, printable

STARTING = "starting (the engine's process, its probe, torch)"
MESSAGE = 110  # characters of a finding's message shown in its line


def finding_key(f: Finding) -> tuple[str, str, str]:
    """What makes a finding a new kind: its level, its op and its cause."""
    return (f.level, f.op, f.cause or f.kind)


def finding_line(f: Finding) -> str:
    """One line for a finding just found (unshrunk: graph ``f.index`` as generated)."""
    where = ("a probe graph" if f.kind == "accumulation" else "the edge sweep" if f.index < 0
             else f"graph {f.index}")
    message = " ".join(f.message.split())
    message = printable(message)  # it may quote the engine's own text
    if len(message) > MESSAGE:
        message = message[: MESSAGE - 1] + "…"
    cause = f" ({f.cause})" if f.cause else ""
    return f"  found [{f.level}] {f.op}: {f.kind}{cause}: {message} — {where}"


class Monitor(Protocol):
    """What a campaign tells whoever watches it (a :class:`Progress`, or a worker process's
    messages to the parent's)."""

    def checked(self, graphs: int, failed: int, worker: int = 0) -> None: ...

    def found(self, finding: Finding) -> None: ...

    def set_phase(self, phase: str) -> None: ...


class Progress(Ticker):
    """Counts from one or more workers, printed on ``stream``. Thread-safe: worker updates may
    come from a reader loop while the timer thread prints."""

    def __init__(self, total: int | None, workers: int = 1, stream: TextIO | None = None,
                 interval: float = INTERVAL, level: str = LEVELS[-1]) -> None:
        super().__init__(stream, interval)
        self.total, self.level = total, level
        self.phase = STARTING  # until the first batch is judged
        self._counts: dict[int, tuple[int, int]] = {w: (0, 0) for w in range(workers)}
        self._done = (0, 0)  # graphs and failures of the stages (devices) already finished
        self._seen: set[tuple[str, str, str]] = set()

    # -- what the campaign reports ------------------------------------------------------------

    def checked(self, graphs: int, failed: int, worker: int = 0) -> None:
        """Worker ``worker`` has checked ``graphs`` graphs so far, ``failed`` of them failing."""
        with self._lock:
            self._counts[worker] = (graphs, failed)
            if self.phase == STARTING:
                self.phase = "checking"
            if self.live and time.perf_counter() - self._drawn >= self.redraw:
                self._draw()

    def found(self, finding: Finding) -> None:
        """A finding: printed at once if it is the first of its kind."""
        key = finding_key(finding)
        if not at_or_below(finding.level, self.level):
            return
        with self._lock:
            if key in self._seen:
                return
            self._seen.add(key)
            self._write(finding_line(finding))

    def set_phase(self, phase: str) -> None:
        """What the campaign does now (``checking``, ``confirming and shrinking 3 findings``)."""
        with self._lock:
            self.phase = phase
            self._beat()

    def next_stage(self, phase: str) -> None:
        """The counts so far are final (one device done); the next stage's workers start at 0."""
        with self._lock:
            graphs, failed = self._totals()
            self._done = (graphs, failed)
            self._counts = {w: (0, 0) for w in self._counts}
        self.set_phase(phase)

    def _totals(self) -> tuple[int, int]:
        return (self._done[0] + sum(g for g, _ in self._counts.values()),
                self._done[1] + sum(f for _, f in self._counts.values()))

    # -- printing -----------------------------------------------------------------------------

    def status(self) -> str:
        """The one-line status: elapsed time, graphs (of the total), failures, rate, phase."""
        graphs, failed = self._totals()
        elapsed = time.perf_counter() - self.start
        of = f"/{self.total:,}" if self.total else ""
        rate = graphs / elapsed if elapsed > 0 else 0.0
        return (f"  [{elapsed:5.0f} s] {graphs:,}{of} graphs, {failed:,} failed, {rate:,.0f}/s"
                f" — {self.phase}")
