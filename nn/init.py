"""Seeded, reproducible parameter initialisation.

Two schemes: the lecture's ``uniform`` (every weight and bias from U(-1, 1)) and
``kaiming_uniform``, the distribution of ``torch.nn.Linear``'s default initialisation
(``kaiming_uniform_(a=sqrt(5))`` for weights and U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for biases,
which both come to U(-1/sqrt(fan_in), 1/sqrt(fan_in))). The numbers come from Python's ``random``,
so they are the same on every machine for the same seed, but not the numbers torch would draw.
"""

from __future__ import annotations

import math
import numbers
import random
from typing import Any, Protocol

INITS: tuple[str, ...] = ("uniform", "kaiming_uniform")


class RandomLike(Protocol):
    """What initialisation needs from a random source: ``random.Random`` or the ``random`` module."""

    def uniform(self, a: float, b: float) -> float: ...


def make_rng(seed: int | None = None, rng: RandomLike | None = None) -> RandomLike:
    """The random source to draw from: ``rng`` if given, else ``random.Random(seed)``; with
    neither, the global ``random`` module (unseeded, as in the lecture)."""
    if seed is not None and rng is not None:
        raise ValueError("pass either seed= or rng=, not both")
    if rng is not None:
        if not callable(getattr(rng, "uniform", None)):
            raise TypeError(f"rng must be a random.Random (with .uniform), got {type(rng).__name__}")
        return rng
    if seed is not None:
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
            raise TypeError(f"seed must be an int, got {type(seed).__name__}: {seed!r}")
        return random.Random(int(seed))
    return random


def check_init(init: Any) -> str:
    if not isinstance(init, str) or init not in INITS:
        raise ValueError(f"unknown init {init!r}; choose one of {', '.join(INITS)}")
    return init


def init_bound(init: str, fan_in: int) -> float:
    """Half-width of the uniform distribution weights and biases are drawn from."""
    if check_init(init) == "uniform":
        return 1.0
    return 1.0 / math.sqrt(fan_in)


def draw(rng: RandomLike, bound: float, n: int) -> list[float]:
    """``n`` numbers from U(-bound, bound), in order."""
    return [rng.uniform(-bound, bound) for _ in range(n)]
