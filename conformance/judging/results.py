"""What a campaign found: per-op statistics, findings, the result of checking one graph, and the
report that adds them up (and picks which findings to show)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

from vetgrad.conformance.dags.graph import Graph
from vetgrad.conformance.judging import number as J  # noqa: N812 - short name for verdict constants
from vetgrad.conformance.judging.levels import LEVELS, MATH, at_or_below, rank
from vetgrad.conformance.judging.numerics import class_difference


def printable(text: str) -> str:
    """``text`` with control characters escaped (``\\x1b``): a message may quote the engine's own
    exception text, which must not drive the terminal the report is read on."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() or ch == "\n" else repr(ch)[1:-1] for ch in text)

@dataclass
class OpStats:
    """The cases judged of one op. ``worst_ulps``: the largest ulp distance from torch of a case
    that passed, between numbers of one class; a case that passed across classes (rounding that
    reaches 0 where torch's does not, or crosses it) has no meaningful ulp distance and is counted
    in ``class_differences`` instead, ``class_example`` saying the first in words."""

    cases: int = 0
    passed: int = 0
    failed: int = 0
    imprecise: int = 0
    worst_ulps: float = 0.0
    class_differences: int = 0
    class_example: str = ""

    def add(self, verdict: str, ulps: float, mine: float | None = None,
            theirs: float | None = None) -> None:
        """One case, with the engine's and torch's numbers when it compared two."""
        self.cases += 1
        if verdict == J.FAIL:
            self.failed += 1
            return
        self.passed += 1
        if verdict == J.IMPRECISE:
            self.imprecise += 1
        differs = None
        if isinstance(mine, float) and isinstance(theirs, float):
            differs = class_difference(mine, theirs)
        if differs is not None:
            self.class_differences += 1
            self.class_example = self.class_example or differs
        elif math.isfinite(ulps):
            self.worst_ulps = max(self.worst_ulps, ulps)

    def merge(self, other: OpStats) -> None:
        self.cases += other.cases
        self.passed += other.passed
        self.failed += other.failed
        self.imprecise += other.imprecise
        self.worst_ulps = max(self.worst_ulps, other.worst_ulps)
        self.class_differences += other.class_differences
        self.class_example = self.class_example or other.class_example


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
    level: str = MATH  # the lowest level of the ladder at which it is a failure
    cause: str = ""    # the cause in words, the same for every finding of that cause
    # ops downstream whose findings in this graph this one's wrong value explains (consequences)
    downstream: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "op": self.op, "node": self.node, "message": self.message,
                "level": self.level, "cause": self.cause,
                "device": self.device, "graph_index": self.index, "graph": self.graph.to_json(),
                "reproducer": self.reproducer, "downstream": list(self.downstream)}


@dataclass
class GraphResult:
    """What checking one graph gave: its first finding at each level of the ladder, lowest level
    first (``finding``: the lowest, the one that explains the graph; None when the graph conforms
    at every level), the cases judged per op, and how often rounding, not a bug, explained a
    difference from torch (``imprecise``: counted once per end-to-end check and once per undecided
    higher-order comparison)."""

    index: int
    finding: Finding | None = None
    per_op: dict[str, OpStats] = field(default_factory=dict)
    imprecise: int = 0
    findings: list[Finding] = field(default_factory=list)

    def like(self, kind: str, op: str, level: str | None = None) -> Finding | None:
        """The graph's finding of this kind in this op (at this level), or None."""
        return next((f for f in self.findings or ([self.finding] if self.finding else [])
                     if f.kind == kind and f.op == op and (level is None or f.level == level)), None)


@dataclass
class Report:
    engine: str
    seed: int
    strict: bool
    devices: list[str]
    ops: list[str]
    unsupported: dict[str, list[str]] = field(default_factory=dict)
    graphs: int = 0
    per_op: dict[str, OpStats] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    elapsed: float = 0.0
    imprecise_graphs: int = 0
    # the level that decides passed/failed and the exit status (the ladder is judged at once)
    level: str = MATH
    # per level: graphs failing at it or below, their first findings by kind, first failure
    failed_at: dict[str, int] = field(default_factory=lambda: dict.fromkeys(LEVELS, 0))
    kinds_at: dict[str, dict[str, int]] = field(default_factory=lambda: {lv: {} for lv in LEVELS})
    first_at: dict[str, int | None] = field(default_factory=lambda: dict.fromkeys(LEVELS))
    # (level, cause) -> op -> graphs whose first finding at that level has that cause
    causes: dict[tuple[str, str], dict[str, int]] = field(default_factory=dict)
    precision: str = "float64"  # what the engine was seen to compute in
    interrupted: bool = False  # stopped by a signal: what was checked until then
    stopped: str = ""  # why the campaign stopped early (too many hanging graphs), if it did
    # the edge sweep's graphs (index -1), counted in ``graphs`` and ``failed_at`` too: apart from
    # --graphs' random graphs, which are ``graphs - sweep_graphs``
    sweep_graphs: int = 0
    sweep_failed_at: dict[str, int] = field(default_factory=lambda: dict.fromkeys(LEVELS, 0))
    # (level, cause, op) of a wrong value -> op downstream -> graphs where it reached that op
    consequences: dict[tuple[str, str, str], dict[str, int]] = field(default_factory=dict)
    # op -> the ops its result is built from in the engine (``x - y`` as ``x + (-y)``: add, neg)
    composition: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # how a Value class names a node's parts (conformance.subject.adapters.NodeSpelling.to_json: .val,
    # .children, .back_prop()); None for an Adapter
    spelled: dict[str, str | None] | None = None

    @property
    def failed(self) -> int:
        return self.failed_at[self.level]

    @property
    def passed(self) -> int:
        return self.graphs - self.failed

    @property
    def random_graphs(self) -> int:
        """The random graphs (what --graphs asks for), without the edge sweep's."""
        return self.graphs - self.sweep_graphs

    @property
    def sweep_failed(self) -> int:
        """Edge-sweep graphs failing at the chosen level or below."""
        return self.sweep_failed_at[self.level]

    @property
    def random_failed(self) -> int:
        """Random graphs failing at the chosen level or below."""
        return self.failed - self.sweep_failed

    @property
    def kinds(self) -> dict[str, int]:
        """Failing graphs (at the chosen level) by their first finding."""
        return self.kinds_at[self.level]

    def add(self, result: GraphResult, sweep: bool | None = None) -> None:
        """Count one checked graph: an edge-sweep graph when ``sweep`` (by default: when its
        index is -1), a random one otherwise."""
        self.imprecise_graphs += result.imprecise
        for name, stats in result.per_op.items():
            self.per_op.setdefault(name, OpStats()).merge(stats)
        self.graphs += 1
        sweep = result.index < 0 if sweep is None else sweep
        self.sweep_graphs += sweep
        found = result.findings or ([result.finding] if result.finding else [])
        if not found:
            return
        where = max(result.index, 0)  # the edge sweep (index -1) comes before graph 0
        lowest = min(found, key=lambda f: rank(f.level))
        for lv in LEVELS:
            if at_or_below(lowest.level, lv):
                self.failed_at[lv] += 1
                self.sweep_failed_at[lv] += sweep
                key = f"{lowest.kind} in {lowest.op}"
                self.kinds_at[lv][key] = self.kinds_at[lv].get(key, 0) + 1
                first = self.first_at[lv]
                self.first_at[lv] = where if first is None else min(first, where)
        for f in found:
            ops = self.causes.setdefault((f.level, f.cause or f.kind), {})
            ops[f.op] = ops.get(f.op, 0) + 1
            if f.downstream:
                reached = self.consequences.setdefault((f.level, f.cause or f.kind, f.op), {})
                for op in f.downstream:
                    reached[op] = reached.get(op, 0) + 1
        self.findings.extend(found)

    @property
    def first_failure(self) -> int | None:
        return self.first_at[self.level]

    def merge(self, other: Report) -> None:
        self.interrupted = self.interrupted or other.interrupted
        self.stopped = self.stopped or other.stopped
        self.graphs += other.graphs
        self.sweep_graphs += other.sweep_graphs
        self.imprecise_graphs += other.imprecise_graphs
        for name, stats in other.per_op.items():
            self.per_op.setdefault(name, OpStats()).merge(stats)
        # a finding the same probe gave each worker (conformance.judging.accumulation) is said once
        probed = {(f.op, f.cause, f.message) for f in self.findings if f.kind == "accumulation"}
        self.findings.extend(f for f in other.findings
                             if f.kind != "accumulation" or (f.op, f.cause, f.message) not in probed)
        for lv in LEVELS:
            self.failed_at[lv] += other.failed_at[lv]
            self.sweep_failed_at[lv] += other.sweep_failed_at[lv]
            for kind, count in other.kinds_at[lv].items():
                self.kinds_at[lv][kind] = self.kinds_at[lv].get(kind, 0) + count
            mine, theirs = self.first_at[lv], other.first_at[lv]
            self.first_at[lv] = theirs if mine is None else mine if theirs is None else min(mine, theirs)
        for mine, theirs in ((self.causes, other.causes), (self.consequences, other.consequences)):
            for key, ops in theirs.items():
                into = mine.setdefault(key, {})  # type: ignore[arg-type]
                for op, count in ops.items():
                    into[op] = into.get(op, 0) + count
        self.composition = self.composition or other.composition
        self.spelled = self.spelled or other.spelled
        if other.precision != "float64":
            self.precision = other.precision

    def ladder(self) -> list[tuple[str, bool, list[tuple[str, dict[str, int]]]]]:
        """Per level: (level, reached, [(cause, {op: graphs})] of the findings at that level,
        most graphs first). A level is reached when nothing fails at it or below."""
        out = []
        for lv in LEVELS:
            here = [(cause, ops) for (level, cause), ops in self.causes.items() if level == lv]
            here.sort(key=lambda c: -sum(c[1].values()))
            out.append((lv, self.failed_at[lv] == 0, here))
        return out


# kinds of finding that name a fault of the engine as a whole or localise one (conformance.subject.sanity,
# conformance.judging.accumulation): first at their level, before what the fault does to each op
WHOLE_ENGINE = ("engine", "accumulation")


def root_cause_order(findings: Sequence[Finding],
                     composition: dict[str, tuple[str, ...]] | None = None) -> list[Finding]:
    """The findings in the order a reader should fix them: lowest level first; within a level a
    fault of the engine as a whole or a localised one first, a finding that names an op before
    one that names only the graph (an end-to-end difference, often what an op's bug does), an op
    the engine builds from other ops (``x - y`` as ``x + (-y)``) after those ops when they fail
    too (at that level or below); then the smallest graph (reproducer) first."""
    composition = composition or {}
    failing: dict[str, int] = {}
    for f in findings:
        failing[f.op] = min(failing.get(f.op, len(LEVELS)), rank(f.level))

    def built_on_failing(f: Finding) -> bool:
        return any(part != f.op and failing.get(part, len(LEVELS)) <= rank(f.level)
                   for part in composition.get(f.op, ()))

    return sorted(findings, key=lambda f: (rank(f.level), f.kind not in WHOLE_ENGINE,
                                           f.op == "graph" and f.kind not in WHOLE_ENGINE,
                                           built_on_failing(f), len(f.graph.nodes), f.index))


def select_findings(findings: Sequence[Finding], limit: int,
                    composition: dict[str, tuple[str, ...]] | None = None) -> list[Finding]:
    """At most ``limit`` findings, lowest level of the ladder first; within a level every kind of
    finding (cause, kind and op) before a second of any kind, each kind's earliest graphs first:
    one frequent failure must not hide the others, nor a convention a real bug. Returned in
    :func:`root_cause_order`."""
    by_kind: dict[tuple[str, str, str, str], list[Finding]] = {}
    for f in sorted(findings, key=lambda f: (rank(f.level), f.index)):
        by_kind.setdefault((f.level, f.cause, f.kind, f.op), []).append(f)
    chosen: list[Finding] = []
    for turn in range(max((len(v) for v in by_kind.values()), default=0)):
        chosen.extend(v[turn] for v in by_kind.values() if turn < len(v))
    chosen.sort(key=lambda f: rank(f.level))  # stable: each level's rotation kept
    return root_cause_order(chosen[:limit], composition)
