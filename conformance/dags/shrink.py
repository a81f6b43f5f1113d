"""Shrink a failing graph to a small one that still fails: greedy, over any predicate on graphs
(the caller decides what "still fails" means; shrinking knows nothing of checkers or reports)."""

from __future__ import annotations

from typing import Callable, Sequence

from vetgrad.conformance.dags.graph import Graph, Node

MAX_CHECKS = 150


def _prune(nodes: list[Node]) -> Graph:
    """Keep only the ancestors of the last node; renumber."""
    keep = {len(nodes) - 1}
    for i in range(len(nodes) - 1, -1, -1):
        if i in keep:
            keep.update(a for a in nodes[i].args if isinstance(a, int))
    remap = {old: new for new, old in enumerate(sorted(keep))}
    out = [Node(n.op, tuple(remap[a] if isinstance(a, int) else a for a in n.args), n.params, n.value)
           for i, n in enumerate(nodes) if i in keep]
    return Graph(tuple(out))


def candidates(graph: Graph, values: Sequence[float]) -> list[Graph]:
    """Smaller graphs: end at an earlier node, or replace an op node by a leaf of its value."""
    nodes = list(graph.nodes)
    out = []
    for root in range(len(nodes) - 1):
        if nodes[root].op != "leaf":
            out.append(_prune(nodes[: root + 1]))
    for i in range(len(nodes) - 1):
        if nodes[i].op != "leaf":
            cut = [*nodes[:i], Node("leaf", value=values[i]), *nodes[i + 1:]]
            out.append(_prune(cut))
    return out


def shrink(graph: Graph, still_fails: Callable[[Graph], bool], *,
           values: Callable[[Graph], Sequence[float]], max_checks: int = MAX_CHECKS) -> Graph:
    """The smallest graph greedy shrinking finds for which ``still_fails`` holds (``graph`` itself
    when none is smaller): repeatedly take the first smaller candidate, smallest first, that still
    fails. ``values(g)`` gives the value of each node of ``g`` (a node cut to a leaf keeps its
    value); ``still_fails`` is asked at most ``max_checks`` times, and an exception it raises
    counts as "no"."""
    checks = 0
    improved = True
    while improved and checks < max_checks:
        improved = False
        node_values = values(graph)
        for smaller in sorted(candidates(graph, node_values), key=lambda g: len(g.nodes)):
            if len(smaller.nodes) >= len(graph.nodes):
                continue
            checks += 1
            if _fails(still_fails, smaller):
                graph, improved = smaller, True
                break
            if checks >= max_checks:
                break
    return graph


def _fails(still_fails: Callable[[Graph], bool], graph: Graph) -> bool:
    try:
        return still_fails(graph)
    except Exception:
        return False
