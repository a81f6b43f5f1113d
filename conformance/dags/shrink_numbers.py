"""Shrink the numbers of a failing graph, as hypothesis does: each leaf value and constant is tried
as something simpler (0, ±1, 2, a small integer, then 1, 2 or 3 significant digits), and a change
is kept while the graph still fails (the caller's predicate says what "still fails" means)."""

from __future__ import annotations

import math
from typing import Callable

from vetgrad.conformance.dags.graph import Const, Graph, Node

NUMBER_CHECKS = 60  # predicate calls the number pass may spend


def complexity(x: float) -> tuple[int, int, float]:
    """How complicated ``x`` reads: integers first, then by the length of its repr, then size."""
    if isinstance(x, float) and not math.isfinite(x):
        return (2, 0, 0.0)
    return (0 if float(x).is_integer() else 1, len(repr(x)), abs(x))


def _significant(x: float, digits: int) -> float:
    return float(f"{x:.{digits}g}")


def simpler(x: float) -> list[float]:
    """Numbers simpler than ``x``, simplest first, of ``x``'s own type (an int stays an int).
    Nothing for inf, nan or a number that is already as simple as it gets."""
    if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x):
        return []
    sign = -1.0 if math.copysign(1.0, x) < 0 else 1.0
    tries: list[float] = [0.0, sign, -sign, 2.0 * sign]
    if abs(x) < 1e6:
        tries += [float(round(x)), float(math.trunc(x))]
    tries += [_significant(x, d) for d in (1, 2, 3)]
    cast = int if isinstance(x, int) else float
    out: list[float] = []
    for t in tries:
        c = cast(t)
        if c not in out and c != x and complexity(c) < complexity(x):
            out.append(c)
    return out


def _spots(graph: Graph) -> list[tuple[int, int | None]]:
    """Where the numbers are: ``(node, None)`` for a leaf's value, ``(node, k)`` for constant k."""
    out: list[tuple[int, int | None]] = []
    for i, n in enumerate(graph.nodes):
        if n.op == "leaf":
            out.append((i, None))
        out += [(i, k) for k, a in enumerate(n.args) if isinstance(a, Const)]
    return out


def _get(graph: Graph, spot: tuple[int, int | None]) -> float:
    node = graph.nodes[spot[0]]
    return node.value if spot[1] is None else node.args[spot[1]].value  # type: ignore[return-value,union-attr]


def _put(graph: Graph, spot: tuple[int, int | None], x: float) -> Graph:
    i, k = spot
    n = graph.nodes[i]
    if k is None:
        new = Node(n.op, n.args, n.params, x)
    else:
        new = Node(n.op, tuple(Const(x) if j == k else a for j, a in enumerate(n.args)), n.params, n.value)
    return Graph((*graph.nodes[:i], new, *graph.nodes[i + 1:]), graph.seed)


def shrink_numbers(graph: Graph, still_fails: Callable[[Graph], bool], *,
                   max_checks: int = NUMBER_CHECKS) -> Graph:
    """``graph`` with each leaf value and constant replaced by the simplest of :func:`simpler`
    that still fails (one pass, numbers in graph order); ``still_fails`` is asked at most
    ``max_checks`` times, and an exception it raises counts as "no"."""
    checks = 0
    for spot in _spots(graph):
        for x in simpler(_get(graph, spot)):
            if checks >= max_checks:
                return graph
            checks += 1
            candidate = _put(graph, spot, x)
            try:
                fails = still_fails(candidate)
            except Exception:
                fails = False
            if fails:
                graph = candidate
                break
    return graph
