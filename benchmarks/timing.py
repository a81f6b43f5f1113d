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


def enough(times: list[float], *, min_rounds: int, max_rounds: int, min_time: float) -> bool:
    """Whether rounds taking ``times`` seconds fill the budget: at least ``min_rounds`` rounds and
    ``min_time`` seconds of timed work, or ``max_rounds`` rounds."""
    n = len(times)
    return n >= max_rounds or (n >= min_rounds and sum(times) >= min_time)


def repeat(target: Callable[[], T], *, setup: Callable[[], object] | None = None,
           min_rounds: int = 3, max_rounds: int = 50, min_time: float = 0.5,
           warmup: int = 1) -> Rounds[T]:
    """Call ``setup`` (untimed) then ``target`` (timed) for ``warmup`` rounds, then until
    :func:`enough` rounds are timed. A warm-up round that alone takes ``min_time`` or more is kept
    as a measured round."""
    times: list[float] = []
    results: list[T] = []
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
        if enough(times, min_rounds=min_rounds, max_rounds=max_rounds, min_time=min_time):
            break
    return Rounds(times, results)


def settle() -> None:
    """Collect garbage outside any clock (between contenders and sizes)."""
    gc.collect()


def median_of(values: list[float]) -> float:
    return statistics.median(values)
