"""Before a finding is reported: its graph run again in a fresh engine process (a graph that fails
only after others ran, or only sometimes, is named as such, with the results seen), then shrunk
there to a smaller graph that still fails *as its reproducer shows it*. A hang costs a full timeout
per try, so hangs share one bounded budget of tries.

What counts as "the same failure" is the finding itself (kind, op, level and node), never its text:
an engine whose numbers differ slightly between runs (a ``set`` ``_prev`` sums in an order that
varies, a captured warning, an address in a message) fails the same way every time."""

from __future__ import annotations

from typing import Any, Callable, Sequence

from vetgrad.conformance import interrupt
from vetgrad.conformance.dags.graph import Const, Graph, Node
from vetgrad.conformance.dags.shrink import MAX_CHECKS
from vetgrad.conformance.dags.shrink import shrink as shrink_graph
from vetgrad.conformance.dags.shrink_numbers import NUMBER_CHECKS, shrink_numbers
from vetgrad.conformance.judging.checker import Checker
from vetgrad.conformance.judging.levels import at_or_below, rank
from vetgrad.conformance.judging.results import Finding, select_findings
from vetgrad.conformance.reference.torch_run import run_graph
from vetgrad.conformance.reporting.reproducer import (
    passes_of,
    reproducer,
    runs_of,
    script_marks,
    shows,
    spellings_of,
)
from vetgrad.conformance.reporting.reproducer_run import ScriptRunner, reproduces
from vetgrad.conformance.subject.address import EngineRef, as_ref
from vetgrad.conformance.subject.session import EngineSession
from vetgrad.conformance.subject.spec import engine_spec, search_path

HANG_TRIES = 3  # timeouts a campaign may spend after its last graph (confirming and shrinking)
REPEATS = 4  # runs of the finding's graph in its fresh process (the first is the fresh one)
MORE_FRESH = 2  # further fresh processes when the first did not fail the same way
EXAMPLE_CHECKS = (20, 10)  # shrink tries (nodes, numbers) of an example above the level asked
EXAMPLE_MAX_NODES = 60  # an example above the level asked with more nodes is not shrunk
FLAKY_CHECKS = (40, 20)  # shrink tries of a nondeterministic finding (each runs its graph REPEATS times)


class HangBudget:
    """How many more timeouts confirming and shrinking may spend (shared by all findings)."""

    def __init__(self, timeout: float | None, tries: int = HANG_TRIES) -> None:
        self.left = tries if timeout else 10**9

    def spend(self, finding: Finding | None) -> None:
        if finding is not None and is_hang(finding):
            self.left -= 1


def is_hang(finding: Finding) -> bool:
    return finding.message.startswith("no answer within")


def _runs(checker: Any, graph: Graph, budget: HangBudget, level: str, times: int) -> list[Finding | None]:
    """The graph run ``times`` times in the checker's process (one batch): each run's first
    finding at ``level`` of the ladder (the one to compare a finding with)."""
    out: list[Finding | None] = []
    for result in checker.check([graph] * times, [0] * times):
        budget.spend(result.finding)
        out.append(next((f for f in result.findings or [result.finding]
                         if f is not None and f.level == level), None))
    return out


def same_failure(a: Finding | None, b: Finding | None) -> bool:
    """Whether ``b`` is the failure ``a`` is: the same kind, op, level and node (both failing).
    Messages are not compared: numbers in their last digits, captured warnings and addresses
    differ between runs that fail alike."""
    return a is not None and b is not None and \
        (a.kind, a.op, a.level, a.node) == (b.kind, b.op, b.level, b.node)


def _fails_like(a: Finding, b: Finding | None) -> bool:
    """``b`` fails as ``a`` does, wherever in the graph (an engine whose summation order varies
    may see the first wrong gradient at another node)."""
    return b is not None and (a.kind, a.op, a.level) == (b.kind, b.op, b.level)


def _verdict(a: Finding | None, b: Finding | None) -> bool:
    """Two runs with the same verdict: both pass, or both fail the same way."""
    return (a is None and b is None) or same_failure(a, b)


def _describe(f: Finding | None) -> str:
    return "no finding" if f is None else f"{f.kind} in {f.op} (node {f.node}): {f.message}"


def confirm(finding: Finding, checker: Any, budget: HangBudget, repeats: int = REPEATS) -> bool:
    """Run the finding's graph ``repeats`` times in the fresh process of ``checker``; True when
    every run fails the same way (kind, op, level; the finding keeps its kind). Otherwise:
    ``nondeterministic`` when the verdict changes between runs of the same graph (it fails in
    one, passes or fails otherwise in another: run in up to MORE_FRESH more fresh processes to
    tell), ``stateful`` when it never fails so in a fresh process, which agree with each other
    (it failed only after the campaign's other graphs ran); the message then holds the results."""
    if budget.left <= 0 and is_hang(finding):
        return False  # not confirmed, not shrunk: the hang budget is spent
    again = _runs(checker, finding.graph, budget, finding.level, 1 if is_hang(finding) else repeats)
    if all(_fails_like(finding, f) for f in again):
        return True
    fresh = again[:1]  # the first run of each fresh process
    for _ in range(MORE_FRESH):
        if budget.left <= 0 and is_hang(finding):
            break
        checker.engine.fresh()
        fresh += _runs(checker, finding.graph, budget, finding.level, 1)
    before = _describe(finding)
    if not any(_fails_like(finding, f) for f in fresh) and all(_verdict(fresh[0], f) for f in fresh):
        finding.kind = "stateful"
        finding.message = (f"fails only after other graphs ran in the same process: in the "
                           f"campaign {before}; alone in a fresh process ({len(fresh)} times) "
                           f"{_describe(fresh[0])}")
    else:
        seen = [*again, *fresh[1:]]
        failing = sum(_fails_like(finding, f) for f in seen)
        other = next((f for f in seen if not _fails_like(finding, f)), None)
        finding.kind = "nondeterministic"
        finding.message = (f"results differ between runs of the same graph: in the campaign "
                           f"{before}; so again in {failing} of {len(seen)} runs in fresh "
                           f"processes; otherwise {_describe(other)}")
    return False


def _in_one_op(finding: Finding) -> bool:
    """A finding in one op node: a wrong value or local derivative, or an exception building it."""
    if not 0 <= finding.node < len(finding.graph.nodes):
        return False
    node = finding.graph.nodes[finding.node]
    return node.op == finding.op and (finding.kind.startswith("local-") or finding.kind == "crash")


def op_alone(finding: Finding, values: list[float] | None) -> list[Graph]:
    """For a finding in one op (:func:`_in_one_op`): graphs of that op alone on the inputs the
    engine gave it (``values``: the engine's value of each node; leaves of its operands' values,
    constants kept), with two leaves, then (``x op x``) one leaf in both operands. The smallest
    graphs that can show it."""
    if not _in_one_op(finding) or values is None:
        return []
    node = finding.graph.nodes[finding.node]
    leaves: dict[int, int] = {}
    nodes: list[Node] = []
    args: list[int | Const] = []
    for a in node.args:
        if isinstance(a, Const):
            args.append(a)
            continue
        if a not in leaves:
            if a >= len(values):
                return []
            leaves[a] = len(nodes)
            nodes.append(Node("leaf", value=values[a]))
        args.append(leaves[a])
    out = [Graph((*nodes, Node(node.op, tuple(args), node.params)))]
    if len(nodes) == 1 and sum(isinstance(a, int) for a in node.args) == 2:  # x op x: apart first
        out.insert(0, Graph((nodes[0], nodes[0], Node(node.op, (0, 1), node.params))))
    return out


def shrink_finding(finding: Finding, checker: Any, budget: HangBudget | None = None, *,
                   max_checks: int = MAX_CHECKS, number_checks: int = NUMBER_CHECKS,
                   kind: str | None = None, runs: int = 1) -> None:
    """Shrink the finding's graph to a smaller one that fails the same way (the same kind of
    finding in the same op at the same level, first at that level in its graph) *and* whose
    reproducer shows it (its check, :func:`conformance.reporting.reproducer.script_marks`, evaluated here
    on the engine's run: ``x0 - x0``, where two wrong derivatives cancel, is not taken): the op
    alone first for a finding in one op, then fewer nodes, then simpler numbers; and take the
    smaller graph's message and node. ``max_checks`` and ``number_checks`` bound the tries.

    A ``nondeterministic`` finding is shrunk as the ``kind`` it was found as, each graph run
    ``runs`` times: one run that fails so (and whose script shows it) is enough; its message
    then says what it was shrunk to."""
    budget = budget or HangBudget(None)
    kind = kind or finding.kind
    passes = passes_of(finding) if kind == finding.kind else (2 if kind == "repeat-backward" else 1)

    def first_finding(graph: Graph, visible: bool = True) -> Finding | None:
        if interrupt.requested():
            raise interrupt.Interrupted()
        if budget.left <= 0 and is_hang(finding):
            return None
        checker.engine.submit([graph] * runs)
        answers = checker.engine.collect()
        refs = checker.reference([graph])
        for result, answer in zip(checker.judge_runs([graph] * runs, [0] * runs, answers, refs * runs),
                                  answers):
            budget.spend(result.finding)
            same = result.like(kind, finding.op, finding.level)
            if same is not None and (not visible or shows(same, script_marks(
                    graph, answer.run, refs[0], finding.level, passes), graph)):
                return same
        return None

    fails: Callable[[Graph], bool] = lambda g: first_finding(g) is not None
    graph = finding.graph
    start = _start_values(checker, graph) if _in_one_op(finding) else None
    for alone in op_alone(finding, start):
        if _try(fails, alone):
            graph = alone
            break
    else:
        graph = shrink_graph(graph, fails, values=lambda g: run_graph(g, checker.device).values,
                             max_checks=max_checks)
    graph = shrink_numbers(graph, fails, max_checks=number_checks)  # 0, ±1, 2, small integers
    if graph == finding.graph:
        graph = finding.graph
    if graph is not finding.graph:
        same = first_finding(graph, visible=False)
        if same is not None and kind != finding.kind:
            finding.message = (f"results differ between runs of the same graph (shrunk from "
                               f"{len(finding.graph.nodes)} nodes to one that fails in some of "
                               f"{runs} runs): {_describe(same)}")
            finding.node = same.node
        elif same is not None:
            finding.message, finding.node = same.message, same.node
            if same.cause and not finding.cause.startswith(same.cause):
                finding.cause = same.cause  # the message's own cause (a suffix given later stays)
        finding.graph = Graph(graph.nodes, finding.graph.seed)


def _start_values(checker: Any, graph: Graph) -> list[float] | None:
    """The engine's own value of each node of ``graph`` (None when it crashed)."""
    try:
        checker.engine.submit([graph])
        (run,) = checker.engine.collect()
    except Exception:
        return None
    return list(run.run.values)  # up to the node that raised, for a crash


def _try(fails: Callable[[Graph], bool], graph: Graph) -> bool:
    try:
        return fails(graph)
    except interrupt.Interrupted:
        raise
    except Exception:
        return False


def choose_findings(findings: Sequence[Finding], limit: int, level: str | None = None,
                    composition: dict[str, tuple[str, ...]] | None = None) -> list[Finding]:
    """The findings to confirm, shrink and report: up to ``limit`` at ``level`` of the ladder or
    below (conformance.judging.results.select_findings), then one example of each (level, cause) above
    it, the earliest (for the ladder line and the JSON report; the text report shows none).
    ``level`` None: up to ``limit`` at any level. ``composition``: as select_findings'."""
    if level is None:
        return select_findings(findings, limit, composition)
    shown = select_findings([f for f in findings if at_or_below(f.level, level)], limit, composition)
    examples: dict[tuple[str, str], Finding] = {}
    for f in sorted(findings, key=lambda f: (rank(f.level), f.index)):
        if not at_or_below(f.level, level):
            examples.setdefault((f.level, f.cause or f.kind), f)
    return shown + list(examples.values())


def finish(findings: Sequence[Finding], session: EngineSession, engine: Any, *, device: str, strict: bool,
           higher_order: int = 0, shrink: bool = True, level: str | None = None) -> None:
    """Confirm each finding in a fresh engine process, shrink it there and give it a reproducer
    that was run and shows it (in place; the scripts run at the end, by a runner that imports
    torch meanwhile). A finding above ``level`` (an example for the ladder line) is confirmed in
    one run and shrunk in EXAMPLE_CHECKS tries, and its script says so."""
    budget = HangBudget(session.timeout)
    ref = as_ref(getattr(session, "ref", None) or (engine if isinstance(engine, str) else session.name))
    runner = _runner(session, engine) if findings and not interrupt.requested() else None
    try:
        done: list[Finding] = []
        for f in findings:
            if interrupt.requested():
                break
            example = level is not None and not at_or_below(f.level, level)
            kind = f.kind
            try:
                fresh = Checker(session.fresh(), device, strict, higher_order, session.timeout)
                confirmed = confirm(f, fresh, budget, 1 if example else REPEATS)
                if shrink and len(f.graph.nodes) <= 1000:  # a deep chain's failure is its depth
                    tries = dict(zip(("max_checks", "number_checks"), EXAMPLE_CHECKS)) if example else {}
                    if confirmed and not (example and len(f.graph.nodes) > EXAMPLE_MAX_NODES):
                        shrink_finding(f, fresh, budget, **tries)
                    elif f.kind == "nondeterministic" and not example:  # as found, runs in turn
                        shrink_finding(f, fresh, budget, max_checks=FLAKY_CHECKS[0],
                                       number_checks=FLAKY_CHECKS[1], kind=kind, runs=REPEATS)
            except interrupt.Interrupted:
                break
            note = "" if not example else (
                f"an example of a finding above --level {level}: confirmed in one run, " + (
                    f"shrunk in at most {sum(EXAMPLE_CHECKS)} tries" if len(f.graph.nodes) <= EXAMPLE_MAX_NODES
                    else f"not shrunk (more than {EXAMPLE_MAX_NODES} nodes)"))
            f.reproducer = reproducer(f, ref, spellings_of(session, f.graph), note)
            done.append(f)
        for f in done:
            if interrupt.requested():
                break
            f.reproducer = reproduce(f, f.reproducer, ref, runner)
    finally:
        if runner is not None:
            runner[0].close()


Runner = tuple[ScriptRunner, tuple[tuple[str, str], ...]]


def _runner(session: EngineSession, engine: Any) -> Runner | None:
    """A script runner with the engine importable as the campaign's engine process imports it
    (its spec's search path, and its modules made from source saved beside each script)."""
    spec = getattr(session, "spec", None)
    if spec is None:
        try:
            spec = engine_spec(engine)
        except Exception:
            spec = None
    path = tuple(spec.path) if spec is not None else search_path()
    sources = tuple((name, source) for name, source, _ in spec.sources) if spec is not None else ()
    try:
        return ScriptRunner(path), sources
    except OSError:
        return None


# How a finding whose engine process died reads (conformance.subject.process: its script dies too).
_DIED = ("the engine was killed by", "the engine exited with status", "the engine closed the harness's pipe")


def reproduce(finding: Finding, script: str, ref: EngineRef | str, runner: Runner | None) -> str:
    """The finding's reproducer ``script``, run once by ``runner``: the script when it shows the
    finding (or when it cannot be run here: no runner, an engine no import finds), else
    ``no script:`` and why (a hang, a failure that needs the campaign's other graphs, ...)."""
    if is_hang(finding):
        return ("no script: the engine gave no answer on this graph (a script would hang as the "
                "engine does); the graph is in the JSON report (--json): build it in the engine "
                "by hand and interrupt it")
    target = as_ref(ref).target
    if runner is None or target.startswith("__main__:") or "<" in target:
        return script
    status, printed = runner[0].run(script, runner[1])
    if status == "no runner" or reproduces(status, printed, any(d in finding.message for d in _DIED)):
        return script
    last = printed.strip().splitlines()[-1:] or [""]
    ran = (f"it did not finish within {runner[0].timeout:g} s" if status == "timeout" else
           f"it exits {status}: {last[0][:200]!r}")
    if finding.kind == "stateful":
        why = (f"a script building and checking this graph {runs_of(finding)} times in one "
               f"process does not show it ({ran}): it fails only after the campaign's other graphs "
               f"ran in the engine's process")
    elif finding.kind == "nondeterministic":
        why = (f"a script building and checking this graph {runs_of(finding)} times in one "
               f"process does not show it ({ran}): it fails too rarely")
    else:
        why = f"the script written for it does not show it when run on its own ({ran})"
    return f"no script: {why}; the graph is in the JSON report (--json)"
