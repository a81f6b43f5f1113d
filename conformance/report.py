"""What a campaign found: per-op statistics, findings, the result of checking one graph, and the
report that adds them up (and picks which findings to show)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

from conformance import judge as J  # noqa: N812 - short name for verdict constants
from conformance.graph import Graph


@dataclass
class OpStats:
    cases: int = 0
    passed: int = 0
    failed: int = 0
    imprecise: int = 0
    worst_ulps: float = 0.0

    def add(self, verdict: str, ulps: float) -> None:
        self.cases += 1
        if verdict == J.FAIL:
            self.failed += 1
            return
        self.passed += 1
        if verdict == J.IMPRECISE:
            self.imprecise += 1
        if math.isfinite(ulps):
            self.worst_ulps = max(self.worst_ulps, ulps)

    def merge(self, other: OpStats) -> None:
        self.cases += other.cases
        self.passed += other.passed
        self.failed += other.failed
        self.imprecise += other.imprecise
        self.worst_ulps = max(self.worst_ulps, other.worst_ulps)


@dataclass
class Finding:
    """One disagreement: what, where, and the graph that shows it."""

    kind: str          # value, grad, local-value, local-grad, crash, raises, end-to-end
    op: str
    node: int
    message: str
    graph: Graph
    device: str
    index: int = -1    # which graph of the campaign
    reproducer: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "op": self.op, "node": self.node, "message": self.message,
                "device": self.device, "graph_index": self.index, "graph": self.graph.to_json(),
                "reproducer": self.reproducer}


@dataclass
class GraphResult:
    """What checking one graph gave: its first finding (the one that explains it; None when the
    graph conforms), the cases judged per op, and how often rounding, not a bug, explained a
    difference from torch (``imprecise``: counted once per end-to-end check and once per undecided
    higher-order comparison)."""

    index: int
    finding: Finding | None = None
    per_op: dict[str, OpStats] = field(default_factory=dict)
    imprecise: int = 0

    def fails_like(self, kind: str, op: str) -> bool:
        """Whether the graph fails with a finding of this kind in this op."""
        return self.finding is not None and self.finding.kind == kind and self.finding.op == op


@dataclass
class Report:
    engine: str
    seed: int
    strict: bool
    devices: list[str]
    ops: list[str]
    unsupported: dict[str, list[str]] = field(default_factory=dict)
    graphs: int = 0
    passed: int = 0
    failed: int = 0
    per_op: dict[str, OpStats] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    first_failure: int | None = None
    elapsed: float = 0.0
    imprecise_graphs: int = 0
    kinds: dict[str, int] = field(default_factory=dict)  # failing graphs by their first finding
    interrupted: bool = False  # stopped by a signal: what was checked until then

    def add(self, result: GraphResult) -> None:
        """Count one checked graph."""
        self.imprecise_graphs += result.imprecise
        for name, stats in result.per_op.items():
            self.per_op.setdefault(name, OpStats()).merge(stats)
        self.graphs += 1
        f = result.finding
        if f is None:
            self.passed += 1
            return
        self.failed += 1
        where = max(result.index, 0)  # the edge sweep (index -1) comes before graph 0
        if self.first_failure is None or where < self.first_failure:
            self.first_failure = where
        self.findings.append(f)
        key = f"{f.kind} in {f.op}"
        self.kinds[key] = self.kinds.get(key, 0) + 1

    def merge(self, other: Report) -> None:
        self.interrupted = self.interrupted or other.interrupted
        self.graphs += other.graphs
        self.passed += other.passed
        self.failed += other.failed
        self.imprecise_graphs += other.imprecise_graphs
        for name, stats in other.per_op.items():
            self.per_op.setdefault(name, OpStats()).merge(stats)
        self.findings.extend(other.findings)
        for kind, count in other.kinds.items():
            self.kinds[kind] = self.kinds.get(kind, 0) + count
        if other.first_failure is not None:
            self.first_failure = (other.first_failure if self.first_failure is None
                                  else min(self.first_failure, other.first_failure))


def select_findings(findings: Sequence[Finding], limit: int) -> list[Finding]:
    """At most ``limit`` findings, every kind of finding (kind and op) before a second of any
    kind, each kind's earliest graphs first: one frequent failure must not hide the others."""
    by_kind: dict[tuple[str, str], list[Finding]] = {}
    for f in sorted(findings, key=lambda f: f.index):
        by_kind.setdefault((f.kind, f.op), []).append(f)
    chosen: list[Finding] = []
    for rank in range(max((len(v) for v in by_kind.values()), default=0)):
        chosen.extend(v[rank] for v in by_kind.values() if rank < len(v))
    return sorted(chosen[:limit], key=lambda f: f.index)
