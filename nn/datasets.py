"""Small generated datasets for demos and tests: seeded, pure Python, nothing downloaded."""

from __future__ import annotations

import math
import numbers
import random


def make_moons(
    n_samples: int = 100, noise: float = 0.1, seed: int = 0
) -> tuple[list[list[float]], list[int]]:
    """Two interleaving half circles in the plane (like scikit-learn's ``make_moons``).

    Returns points ``[[x, y], ...]`` and labels 0 (upper moon) / 1 (lower moon), shuffled, with
    Gaussian noise of standard deviation ``noise``; the same ``seed`` gives the same data."""
    if isinstance(n_samples, bool) or not isinstance(n_samples, numbers.Integral) or n_samples < 2:
        raise ValueError(f"n_samples must be an int >= 2, got {n_samples!r}")
    if isinstance(noise, bool) or not isinstance(noise, numbers.Real) or not noise >= 0:
        raise ValueError(f"noise must be a number >= 0, got {noise!r}")
    rng = random.Random(seed)
    n_out = n_samples // 2
    n_in = n_samples - n_out
    points: list[tuple[list[float], int]] = []
    for i in range(n_out):
        t = math.pi * i / max(n_out - 1, 1)
        points.append(([math.cos(t), math.sin(t)], 0))
    for i in range(n_in):
        t = math.pi * i / max(n_in - 1, 1)
        points.append(([1.0 - math.cos(t), 0.5 - math.sin(t)], 1))
    rng.shuffle(points)
    xs = [[x + rng.gauss(0.0, noise), y + rng.gauss(0.0, noise)] for (x, y), _ in points]
    return xs, [label for _, label in points]
