"""Repeat a timed call the way pytest-benchmark's ``pedantic`` does, for the report.

The garbage collector stays on (as users run): cyclic garbage one round leaves is collected, at a
cost, during a later round. Between measurements :func:`settle` collects outside the clock, so
that one contender's garbage is never charged to the next.
"""

from __future__ import annotations

import gc
import statistics
import time
from dataclasses import dataclass
from typing import Callable, Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Rounds(Generic[T]):
    """Wall times (seconds) of the measured rounds and what each returned."""

    times: list[float]
    results: list[T]

    @property
    def median(self) -> float:
        return statistics.median(self.times)


def repeat(target: Callable[[], T], *, setup: Callable[[], object] | None = None,
           min_rounds: int = 3, max_rounds: int = 50, min_time: float = 0.5,
           warmup: int = 1, gc_enabled: bool = True) -> Rounds[T]:
    """Call ``setup`` (untimed) then ``target`` (timed) for ``warmup`` rounds, then until at least
    ``min_rounds`` rounds and ``min_time`` seconds of timed work (at most ``max_rounds``).
    A warm-up round that alone takes ``min_time`` or more is kept as a measured round."""
    times: list[float] = []
    results: list[T] = []
    was_enabled = gc.isenabled()
    if not gc_enabled:
        gc.disable()
    try:
        for i in range(warmup + max_rounds):
            if setup is not None:
                setup()
            start = time.perf_counter()
            result = target()
            elapsed = time.perf_counter() - start
            if i < warmup and elapsed < min_time:
                continue  # a warm-up round as long as the whole budget is a measurement too
            times.append(elapsed)
            results.append(result)
            if len(times) >= min_rounds and sum(times) >= min_time:
                break
    finally:
        if was_enabled:
            gc.enable()
    return Rounds(times, results)


def settle() -> None:
    """Collect garbage outside any clock (between contenders and sizes)."""
    gc.collect()


def median_of(values: list[float]) -> float:
    return statistics.median(values)
