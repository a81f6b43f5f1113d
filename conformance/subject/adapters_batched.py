"""The batched replay (``Compiled.batch``) as an engine to the harness:
``--engine conformance.subject.adapters_batched:BatchedAdapter``.

The compiled adapter's recipes and traces (:mod:`conformance.subject.adapters_compiled`), replayed over a
batch instead of one row: the graph's own numbers are one row (:data:`OWN_ROW`) among others at
other numbers (edge values, the numbers negated, moved to other leaves), so every op's per-element
branching (``where`` masks, ties, kinks) is exercised beside the row that is judged, and a row
that leaks into another is a wrong result. Values and gradients are the judged row's.
"""

from __future__ import annotations

from vetgrad.conformance.subject.adapters_compiled import CompiledAdapter
from vetgrad.engine.compiled import Compiled

INF, NAN = float("inf"), float("nan")
OTHER = (0.0, -0.0, 1.0, -2.5, INF, -INF, NAN, 5e-324, 1e300, 0.37, -1.9)  # other rows' numbers
OWN_ROW = 3  # of ROWS
ROWS = 7


def rows(xs: list[float]) -> list[list[float]]:
    """Each leaf's column: ``xs[i]`` in row :data:`OWN_ROW`, other numbers in the other rows
    (edge values in turn, ``-xs``, ``xs`` moved one leaf on, ``xs`` doubled)."""
    n = len(xs)
    table = [
        [OTHER[i % len(OTHER)] for i in range(n)],
        [OTHER[(i + 5) % len(OTHER)] for i in range(n)],
        [-x for x in xs],
        xs,
        [xs[(i + 1) % n] for i in range(n)],
        [2.0 * x for x in xs],
        [OTHER[(3 * i + 2) % len(OTHER)] for i in range(n)],
    ]
    assert len(table) == ROWS and table[OWN_ROW] is xs
    return [[row[i] for row in table] for i in range(n)]


class BatchedAdapter(CompiledAdapter):
    """The harness's view of ``Compiled.batch``: every value and gradient is one row of a batch."""

    name = "engine.compile batched"

    def _replay_values(self, compiled: Compiled, xs: list[float]) -> list[float]:
        return [float(column[OWN_ROW]) for column in compiled.batch_values(*rows(xs))]

    def _replay_all(self, compiled: Compiled, xs: list[float]) -> tuple[list[float], list[float]]:
        values, grads = compiled.batch_all(*rows(xs))
        return ([float(c[OWN_ROW]) for c in values], [float(c[OWN_ROW]) for c in grads])
