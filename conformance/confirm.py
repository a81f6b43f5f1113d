"""Before a finding is reported: its graph run again in a fresh engine process (a graph that fails
only after others ran, or only sometimes, is named as such, with both results), then shrunk there.
A hang costs a full timeout per try, so hangs share one bounded budget of tries."""

from __future__ import annotations

from typing import Any

from conformance import interrupt
from conformance.graph import Graph
from conformance.report import Finding
from conformance.shrink import shrink as shrink_graph
from conformance.shrink_numbers import shrink_numbers
from conformance.torch_ref import run_graph

HANG_TRIES = 3  # timeouts a campaign may spend after its last graph (confirming and shrinking)


class HangBudget:
    """How many more timeouts confirming and shrinking may spend (shared by all findings)."""

    def __init__(self, timeout: float | None, tries: int = HANG_TRIES) -> None:
        self.left = tries if timeout else 10**9

    def spend(self, finding: Finding | None) -> None:
        if finding is not None and finding.message.startswith("no answer within"):
            self.left -= 1


def _first(checker: Any, graph: Graph, budget: HangBudget, level: str) -> Finding | None:
    """The graph's first finding at ``level`` of the ladder (the one to compare a finding with)."""
    (result,) = checker.check([graph], [0])
    budget.spend(result.finding)
    return next((f for f in result.findings or [result.finding] if f is not None and f.level == level),
                None)


def _same(a: Finding | None, b: Finding | None) -> bool:
    return (a is None) == (b is None) and (a is None or (
        (a.kind, a.op, a.node, a.message) == (b.kind, b.op, b.node, b.message)))  # type: ignore[union-attr]


def _describe(f: Finding | None) -> str:
    return "no finding" if f is None else f"{f.kind} in {f.op} (node {f.node}): {f.message}"


def confirm(finding: Finding, checker: Any, budget: HangBudget) -> bool:
    """Run the finding's graph in the fresh process of ``checker``; True when it fails the same
    way. Otherwise run it in a second fresh process: the same result twice means the first
    depended on what the campaign's process ran before (kind ``stateful``), different results
    mean the engine is ``nondeterministic``; the message then holds both results."""
    if budget.left <= 0 and finding.message.startswith("no answer within"):
        return False  # not confirmed, not shrunk: the hang budget is spent
    again = _first(checker, finding.graph, budget, finding.level)
    if _same(finding, again):
        return True
    checker.engine.fresh()
    third = _first(checker, finding.graph, budget, finding.level)
    before = _describe(finding)
    if _same(again, third):
        finding.kind = "stateful"
        finding.message = (f"fails only after other graphs ran in the same process: in the "
                           f"campaign {before}; alone in a fresh process (twice) {_describe(again)}")
    else:
        finding.kind = "nondeterministic"
        finding.message = (f"results differ between runs of the same graph: in the campaign "
                           f"{before}; in a fresh process {_describe(again)}; in another "
                           f"{_describe(third)}")
    return False


def shrink_finding(finding: Finding, checker: Any, budget: HangBudget | None = None) -> None:
    """Shrink the finding's graph to a smaller one that fails the same way (the same kind of
    finding in the same op at the same level, first at that level in its graph): fewer nodes
    first, then simpler numbers; and take the smaller graph's message."""
    budget = budget or HangBudget(None)

    def first_finding(graph: Graph) -> Finding | None:
        if interrupt.requested():
            raise interrupt.Interrupted()
        if budget.left <= 0 and finding.message.startswith("no answer within"):
            return None
        (result,) = checker.check([graph], [0])
        budget.spend(result.finding)
        return result.like(finding.kind, finding.op, finding.level)

    fails = lambda g: first_finding(g) is not None
    graph = shrink_graph(finding.graph, fails, values=lambda g: run_graph(g, checker.device).values)
    graph = shrink_numbers(graph, fails)  # then 0, ±1, 2, small integers, short decimals
    if graph == finding.graph:
        graph = finding.graph
    if graph is not finding.graph:
        same = first_finding(graph)
        if same is not None:
            finding.message, finding.node = same.message, same.node
        finding.graph = Graph(graph.nodes, finding.graph.seed)
