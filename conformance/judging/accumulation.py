"""Accumulation bugs named: after an end-to-end "a contribution lost, doubled or sent to the
wrong node" finding, a handful of 2-4 node probe graphs localise it to an op and a cause a learner
acts on (``=`` where ``+=`` belongs in one op's backward, a topological order walked forwards or
revisiting nodes, a backward that ignores ``out.grad``, self and other swapped), with the smallest
probe that shows it as the finding's graph (so its reproducer has 2-4 nodes).

Each probe uses one node twice (fan-out), so that one leaf gets two contributions:
``u(x) * x``, ``u(x) + x``, ``u(x) + u(x)`` for an op ``u`` of one node operand (``x ** 2`` and
``2 * x`` included), ``b(x, y) * x``, ``b(x, y) + y``, ``b(x, x)`` and the other operand order for
an op of two; two chained ops (``x.tanh().exp()``) show an order bug. The combiner (the root) runs
its backward first in a correct reversed topological order, so an ``=`` in the op probed overwrites
the combiner's contribution: the probe names the op whose backward runs last on the leaf.

How the engine's numbers come about is decided by replaying each probe under each hypothesis (the
backward pass of a micrograd-style engine, simulated with torch's local derivatives: one op's
``=`` for one operand, ``for node in topo``, a topological sort without a visited set, ...) and
taking the hypothesis that explains the most failing probes and contradicts no passing one.
The probes run :data:`RUNS` times in one process, so an engine whose ``_prev`` is a ``set`` (its
order of summation varies) is covered; numbers that vary between the runs are said in a note.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any, Collection, Iterable, Sequence

from vetgrad.conformance.dags.graph import ALIASED, Const, Graph, Node, expression
from vetgrad.conformance.judging import number as J  # noqa: N812 - short name for verdict constants
from vetgrad.conformance.judging.levels import LOST_CONTRIBUTION, MATH
from vetgrad.conformance.judging.results import Finding, Report
from vetgrad.conformance.reference.torch_run import LocalCase, run_local
from vetgrad.engine.ops import OPS, public_ops

__all__ = ["GENERIC", "KIND", "Hypothesis", "localise", "probes", "simulate", "wanted"]

# The end-to-end cause this module localises (conformance.judging.checker writes it).
GENERIC = LOST_CONTRIBUTION  # the checker's cause for an end-to-end difference it cannot place
KIND = "accumulation"  # the kind of a localised finding
X, Y = 0.5, 1.25       # the probes' leaves: inside every op's ordinary domain, no kink or tie
RUNS = 3               # each probe this many times in one process (a set _prev's varying order)
# Ops a learner's engine often builds from others (x - y as x + (-y), x / y as x * y**-1, -x as
# x * -1): blamed after the ops they are built from, and named beside them when those fail.
BUILT = ("sub", "neg", "div")
# Unary ops a chain for the order check prefers (each is one node in every engine).
CHAIN_PREFERENCE = ("tanh", "exp", "sigmoid", "sin", "cos", "atan", "log", "sqrt", "relu")
VARYING = "the order of summation varies between runs (a set _prev?)"


@dataclass(frozen=True)
class Probe:
    """A small graph probing ``op`` in operand ``form`` (``op`` "chain" for the order check)."""

    graph: Graph
    op: str
    form: str


@dataclass(frozen=True)
class Hypothesis:
    """How an engine's backward may go wrong: ``what`` is ``eq`` (``op``'s backward sets operand
    ``pos``'s grad; ``pos`` 2: both operands'), ``upstream`` (``op``'s backward does not multiply by out.grad), ``swap``
    (``op``'s backward sends each operand's contribution to the other), ``unreversed`` (backward
    walks the topological order forwards), ``revisit`` (the topological sort has no visited set),
    or ``correct``."""

    what: str
    op: str = ""
    pos: int = -1

    def cause(self, forms: dict[str, tuple[str, ...]]) -> str:
        if self.what == "eq":
            if self.pos == 2 and "nn" in forms.get(self.op, ()):
                return (f"{self.op}'s backward sets both operands' .grad instead of adding to them "
                        f"(= where += belongs)")
            return (f"{self.op}'s backward sets {_operand(self.op, self.pos, forms)} instead of "
                    f"adding to it (= where += belongs)")
        if self.what == "upstream":
            return (f"{self.op}'s backward does not multiply by out.grad (the gradient from above): "
                    f"right only where {self.op} is the root")
        if self.what == "swap":
            return f"{self.op}'s backward sends self's contribution to other and other's to self"
        if self.what == "unreversed":
            return ("backward() walks the graph in topological order, not reversed "
                    "(for node in topo where reversed(topo) belongs)")
        if self.what == "revisit":
            return ("backward() runs a node's _backward more than once: the topological sort "
                    "revisits nodes (no visited set?), so contributions are doubled")
        return "correct"


def _operand(op: str, pos: int, forms: dict[str, tuple[str, ...]]) -> str:
    if OPS[op].arity == 1 or "nn" not in forms.get(op, ()) or pos == 2:
        return "the base's .grad" if op == "pow" and pos != 1 else "the input's .grad"
    return ("the first operand's .grad (self)", "the second operand's .grad (other)")[pos]


# ---------------------------------------------------------------------------------------------
# The probes


def _params(name: str) -> tuple[Any, ...]:
    op = OPS[name]
    return tuple(op.sweep_params[0]) if op.params else ()  # type: ignore[index]


def _const(name: str) -> Const:
    return Const(1.75 if name in ("mod", "floordiv") else 2.0)


def _one_operand(name: str, form: str, a: int) -> Node:
    """``name`` applied to node ``a`` in a form with one node operand (``x ** 2``, ``2 * x``)."""
    if form == "n":
        return Node(name, (a,), _params(name))
    return Node(name, (a, _const(name)) if form == "nc" else (_const(name), a), _params(name))


def wanted(forms: dict[str, tuple[str, ...]], ops: Iterable[str]) -> list[str]:
    """The differentiable ops among ``ops`` the engine offers, in the op table's order."""
    names = set(ops)
    return [op.name for op in public_ops()
            if op.name in names and op.name in forms and op.differentiable]


def probes(forms: dict[str, tuple[str, ...]], ops: Iterable[str]) -> list[Probe]:
    """The probes of every differentiable op of ``ops`` in each form the engine offers, smallest
    and plainest first per op, then two chains for the order check."""
    names = wanted(forms, ops)
    mul = "nn" in forms.get("mul", ())
    add = "nn" in forms.get("add", ())
    out: list[Probe] = []
    for name in names:
        for form in forms[name]:
            if form == "nn":
                # x is self, y is other; the root's contribution comes first
                shapes = [[Node(name, (0, 0), _params(name))]]  # b(x, x): 2 nodes
                if mul:
                    shapes.append([Node("leaf", value=Y), Node(name, (0, 1), _params(name)),
                                   Node("mul", (2, 0))])
                    shapes.append([Node("leaf", value=Y), Node(name, (1, 0), _params(name)),
                                   Node("mul", (2, 0))])
                if add:
                    shapes.append([Node("leaf", value=Y), Node(name, (0, 1), _params(name)),
                                   Node("add", (2, 1))])
                    shapes.append([Node("leaf", value=Y), Node(name, (1, 0), _params(name)),
                                   Node("add", (2, 1))])
            else:
                shapes = []
                if mul:
                    shapes.append([_one_operand(name, form, 0), Node("mul", (1, 0))])
                if add:
                    shapes.append([_one_operand(name, form, 0), Node("add", (1, 0))])
                    shapes.append([_one_operand(name, form, 0), _one_operand(name, form, 0),
                                   Node("add", (1, 2))])
            for rest in shapes:
                out.append(Probe(Graph((Node("leaf", value=X), *rest)), name, form))
    out.extend(_chains(forms, names))
    return out


def _chains(forms: dict[str, tuple[str, ...]], names: list[str]) -> list[Probe]:
    """Two ops chained, each with one node operand (``x.tanh().exp()``): no fan-out, so only an
    order bug (or a backward ignoring out.grad) shows; and the chain's end added to its middle
    (``x.tanh().exp() + x.tanh()``), where a topological sort that revisits nodes runs tanh's
    backward twice."""
    steps = [(n, "n") for n in CHAIN_PREFERENCE if n in names and OPS[n].arity == 1]
    steps += [(n, f) for n in names for f in forms[n] if f in ("nc", "cn") and n not in BUILT]
    steps += [(n, "n") for n in names if OPS[n].arity == 1 and (n, "n") not in steps]
    out = []
    for (first, f1), (second, f2) in itertools.pairwise(steps[:3]):
        if first == second:
            continue
        chain = (Node("leaf", value=X), _one_operand(first, f1, 0), _one_operand(second, f2, 1))
        out.append(Probe(Graph(chain), "chain", ""))
        combiner = "add" if "nn" in forms.get("add", ()) else "mul" if "nn" in forms.get("mul", ()) else ""
        if combiner:  # t = u(x); v(t) + t: an interior node used twice, its backward run once
            out.append(Probe(Graph((*chain, Node(combiner, (2, 1)))), "chain", ""))
    return out


# ---------------------------------------------------------------------------------------------
# The replay of a micrograd-style backward pass under a hypothesis


def simulate(graph: Graph, partials: Sequence[Sequence[float]], hyp: Hypothesis,
             reverse_children: bool = False, reflected: bool = False) -> list[float]:
    """Every node's .grad after a micrograd-style ``backward()`` of ``graph``'s root, its topological
    order built by a depth-first walk of ``_prev`` (the node operands, once each as a set keeps them;
    in reverse with ``reverse_children``), each op's ``_backward`` adding ``partials[i][pos] *
    out.grad`` to operand ``pos`` in order, except as ``hyp`` says. With ``reflected`` the node
    operand of ``2 - x`` is the op's ``self`` (``__rsub__`` calling ``x.__sub__``-like code) as far
    as ``hyp`` is concerned."""
    nodes = graph.nodes
    order: list[int] = []
    seen: set[int] = set()

    def visit(i: int) -> None:
        stack = [(i, False)]
        while stack:
            v, done = stack.pop()
            if done:
                order.append(v)
                continue
            if hyp.what != "revisit":
                if v in seen:
                    continue
                seen.add(v)
            kids = list(dict.fromkeys(a for a in nodes[v].args if isinstance(a, int)))
            if reverse_children:
                kids.reverse()
            stack.append((v, True))
            stack.extend((k, False) for k in reversed(kids))

    visit(len(nodes) - 1)
    grads = [0.0] * len(nodes)
    grads[-1] = 1.0
    walk = order if hyp.what == "unreversed" else list(reversed(order))
    for i in walk:
        node = nodes[i]
        if node.op == "leaf":
            continue
        upstream = 1.0 if hyp.what == "upstream" and hyp.op == node.op else grads[i]
        args = node.args
        swap = hyp.what == "swap" and hyp.op == node.op and len(args) == 2 and \
            not any(isinstance(a, Const) for a in args)
        for pos, a in enumerate(args):
            if isinstance(a, Const):
                continue
            target = args[1 - pos] if swap else a
            contribution = partials[i][pos] * upstream
            seen_as = 0 if reflected and node.form == "cn" else pos
            if hyp.what == "eq" and hyp.op == node.op and hyp.pos in (seen_as, 2):
                grads[target] = contribution  # type: ignore[index]
            else:
                grads[target] += contribution  # type: ignore[index]
    return grads


def _hypotheses(graph: Graph) -> list[Hypothesis]:
    out = [Hypothesis("unreversed"), Hypothesis("revisit")]
    for name in dict.fromkeys(n.op for n in graph.nodes if n.op != "leaf"):
        out.append(Hypothesis("eq", name, 0))
        if OPS[name].arity == 2:
            out += [Hypothesis("eq", name, 1), Hypothesis("eq", name, 2), Hypothesis("swap", name)]
        out.append(Hypothesis("upstream", name))
    return out


def _partials(graphs: Sequence[Graph], values: Sequence[Sequence[float]],
              device: str) -> list[list[tuple[float, ...]]]:
    """torch's local derivatives of every node of every graph, at torch's own values."""
    cases, where = [], []
    for g, (graph, vals) in enumerate(zip(graphs, values)):
        for i, node in enumerate(graph.nodes):
            if node.op != "leaf":
                inputs = tuple(a.value if isinstance(a, Const) else vals[a] for a in node.args)
                cases.append(LocalCase(OPS[node.op], node.form, inputs, node.params))
                where.append((g, i))
    out: list[list[tuple[float, ...]]] = [[()] * len(graph.nodes) for graph in graphs]
    for (g, i), (_, derivs) in zip(where, run_local(cases, device) if cases else []):
        out[g][i] = tuple(derivs)
    return out


# ---------------------------------------------------------------------------------------------
# Localising


@dataclass
class _Run:
    probe: int                 # index into the probes
    grads: list[float] | None  # the engine's (None: it raised)
    fails: bool                # a leaf's grad differs from torch's


def _close(mine: float, theirs: float, scale: float) -> bool:
    """Equal as the ``math`` level judges a sum: within 5e-7 (or the engine's rounding) of the
    size of its terms (``scale``); the sign of a zero does not count (torch's convention)."""
    if mine == theirs or (mine != mine and theirs != theirs):
        return True
    if not (math.isfinite(mine) and math.isfinite(theirs)):
        return False
    return abs(mine - theirs) <= max(J.DEFAULT_REL, 64 * J.eps()) * max(scale, abs(theirs)) + 1e-300


def _scales(graph: Graph, partials: Sequence[Sequence[float]]) -> list[float]:
    """Each node's sum of the sizes of the contributions to its grad (a correct backward)."""
    sizes = [tuple(abs(d) for d in p) for p in partials]
    return simulate(graph, sizes, Hypothesis("correct"))


def _leaves_match(mine: Sequence[float], theirs: Sequence[float], graph: Graph,
                  scales: Sequence[float]) -> bool:
    return all(_close(float(mine[i]), float(theirs[i]), scales[i]) for i in graph.leaves)


def _explains(hyp: Hypothesis, graph: Graph, partials: Sequence[Sequence[float]],
              grads: Sequence[float], scales: Sequence[float]) -> bool:
    return any(_leaves_match(grads, simulate(graph, partials, hyp, rev, refl), graph, scales)
               for rev in (False, True) for refl in (False, True))


def _sound(answer: Any, ref: Any, partials: Sequence[Sequence[float]]) -> bool:
    """Whether the engine's values and each op's local derivatives (run alone on fresh leaves)
    agree with torch's on this probe: a wrong op is the checker's finding, not an accumulation
    bug. (``x op x`` run alone is not asked: that is the accumulation the probe looks at.)"""
    run = answer.run
    if run.crash is not None or run.backward_error is not None or run.grads is None \
            or ref.grads is None or answer.timed_out:
        return False
    if not all(_close(float(v), float(t), abs(t)) for v, t in zip(run.values, ref.values)):
        return False
    for alone in answer.alone:
        if alone.form == ALIASED:
            continue
        _, grads, error = alone.result
        if error is not None or grads is None:
            return False
        for pos, arg in enumerate(alone.node.args):
            if not isinstance(arg, Const) and not _close(float(grads[pos]), partials[alone.index][pos],
                                                         abs(partials[alone.index][pos])):
                return False
    return True


def _tier(hyp: Hypothesis, built: Collection[str] = BUILT) -> int:
    """Order bugs first, then ops' own bugs, then ops the engine builds from others."""
    return 0 if not hyp.op else 1 + (hyp.op in built)


def _rank(hyp: Hypothesis, names: list[str], built: Collection[str]) -> tuple[int, int, int, str, int]:
    kind = ("unreversed", "revisit", "eq", "upstream", "swap").index(hyp.what)
    op = names.index(hyp.op) if hyp.op in names else len(names)
    return _tier(hyp, built), kind, op, hyp.op, -hyp.pos  # (both operands' = before one's)


def localise(checker: Any, forms: dict[str, tuple[str, ...]], ops: Iterable[str],
             device: str = "cpu", composition: dict[str, tuple[str, ...]] | None = None,
             ) -> tuple[list[Finding], str]:
    """The accumulation bugs the probes show, as findings at ``math`` (root cause first), and a
    note ("" when none): numbers that vary between runs of one probe. ``checker``: a
    conformance.judging.checker.Checker whose engine runs the probes (in its process). ``composition``:
    op -> the ops the engine builds it from (conformance.subject.composition; None: not known, then
    sub, neg and div are taken as built)."""
    built: Collection[str] = BUILT if composition is None else composition
    names = wanted(forms, ops)
    found = probes(forms, names)
    if not found:
        return [], ""
    graphs = [p.graph for p in found]
    refs = checker.reference(graphs)
    partials = _partials(graphs, [r.values for r in refs], device)
    scales = [_scales(g, p) for g, p in zip(graphs, partials)]
    checker.engine.submit(graphs * RUNS)  # one process: a set _prev's order varies between runs
    answers = checker.engine.collect()
    with J.rounding(checker.eps):
        runs: list[_Run] = []
        for k, answer in enumerate(answers):
            p = k % len(found)
            run, ref = answer.run, refs[p]
            grads = [float(g) for g in run.grads] if _sound(answer, ref, partials[p]) else None
            runs.append(_Run(p, grads, grads is not None and
                             not _leaves_match(grads, ref.grads, graphs[p], scales[p])))
        note = VARYING if _varies(runs, len(found)) else ""
        failing = [r for r in runs if r.fails]
        if not failing:
            return [], note
        passing = [r for r in runs if r.grads is not None and not r.fails]
        chosen: list[tuple[Hypothesis, list[_Run]]] = []
        left = failing
        candidates = sorted({h for r in failing for h in _hypotheses(graphs[r.probe])},
                            key=lambda h: _rank(h, names, built))
        while left:
            best: tuple[Hypothesis, list[_Run]] | None = None
            for hyp in candidates:
                explained = [r for r in left if _explains(hyp, graphs[r.probe], partials[r.probe], r.grads, scales[r.probe])]  # type: ignore[arg-type]
                if not explained or (best is not None and (
                        _tier(best[0], built) < _tier(hyp, built) or len(explained) <= len(best[1]))):
                    continue
                if any(not _explains(hyp, graphs[r.probe], partials[r.probe], r.grads, scales[r.probe])  # type: ignore[arg-type]
                       for r in passing if hyp.op in graphs[r.probe].ops() or not hyp.op):
                    continue  # it would make a passing probe fail
                best = (hyp, explained)
            if best is None:
                break
            chosen.append(best)
            left = [r for r in left if r not in best[1]]
            if best[0].what in ("unreversed", "revisit"):
                left = []  # an order bug confounds every other probe
        findings = _findings(chosen, left, found, refs, forms, device, built)
    if findings and note:
        findings[0].message += f" (numbers vary between runs of the same graph: {note})"
    return findings, note


def _varies(runs: list[_Run], n: int) -> bool:
    for p in range(n):
        seen = [r.grads for r in runs[p::n] if r.grads is not None]
        if any(not all(J.identical(a, b) for a, b in zip(seen[0], other)) for other in seen[1:]):
            return True
    return False


def _findings(chosen: list[tuple[Hypothesis, list[_Run]]], left: list[_Run], found: list[Probe],
              refs: list[Any], forms: dict[str, tuple[str, ...]], device: str,
              built: Collection[str]) -> list[Finding]:
    out: list[Finding] = []
    by_what: dict[str, Finding] = {}
    for hyp, explained in chosen:
        # the smallest probe that shows it; an order bug by a chain of two ops where one shows it
        run = min(explained, key=lambda r: (hyp.what == "unreversed" and found[r.probe].op != "chain",
                                            len(found[r.probe].graph.nodes), r.probe))
        if hyp.op in built and hyp.what in by_what:
            first = by_what[hyp.what]
            parts = built.get(hyp.op, ()) if isinstance(built, dict) else ()
            first.message += (f"; {hyp.op} shows the same (the engine builds it from {first.op})"
                              if first.op in parts else
                              f"; {hyp.op} shows the same (the engine may build it from {first.op})")
            continue
        finding = _finding(hyp.cause(forms), hyp.op or "graph", found[run.probe], run, refs, device)
        by_what.setdefault(hyp.what, finding)
        out.append(finding)
    if left and not out:  # no one hypothesis: the smallest probe, of an op built from none first
        run = min(left, key=lambda r: (found[r.probe].op in built, len(found[r.probe].graph.nodes),
                                       r.probe))
        probe = found[run.probe]
        op = probe.op if probe.op != "chain" else "graph"
        cause = (f"{op}'s backward sends its operands a wrong share of out.grad when its output is "
                 f"used again (a contribution lost, doubled or misrouted, or out.grad not "
                 f"multiplied in)" if op != "graph" else GENERIC)
        out.append(_finding(cause, op, probe, run, refs, device))
    return out


def _finding(cause: str, op: str, probe: Probe, run: _Run, refs: list[Any], device: str) -> Finding:
    graph = probe.graph
    ref = refs[run.probe]
    grads = run.grads or []
    leaf = max(graph.leaves, key=lambda i: _gap(grads[i], ref.grads[i]))
    message = _said(graph, leaf, grads[leaf], ref.grads[leaf])
    return Finding(KIND, op, leaf, message, graph, device, level=MATH, cause=cause)


def _gap(a: float, b: float) -> float:
    d = abs(a - b)
    return d if math.isfinite(d) else math.inf


def _said(graph: Graph, leaf: int, mine: float, theirs: float) -> str:
    """``y = x.tanh() * x at x = 0.5 gives dy/dx = 0.393, torch 0.855``."""
    leaves = graph.leaves
    names: dict[int, str] = {i: "xy"[k] for k, i in enumerate(leaves)}
    out = "out" if len(leaves) > 1 else "y"
    for i in range(len(graph.nodes)):
        if i not in names:
            names[i] = expression(graph, i, names, method=True)
    at = ", ".join(f"{names[i]} = {graph.nodes[i].value!r}" for i in leaves)
    return (f"{out} = {names[graph.root]} at {at} gives d{out}/d{names[leaf]} = {mine + 0.0:.6g}, "
            f"torch {theirs:.6g}")


# ---------------------------------------------------------------------------------------------
# The campaign's hook


def needed(report: Report) -> bool:
    """Whether the campaign found an end-to-end contribution finding (at any level)."""
    return any(f.kind == "end-to-end" and f.cause.startswith(GENERIC) for f in report.findings)


def attach(report: Report, localised: list[Finding]) -> None:
    """Make the localised findings the root cause in ``report``: the end-to-end contribution
    graphs become their consequences: the diagnoses count them under the first localised cause
    ("[math] tanh's backward sets ... (tanh: 494 graphs)"), and one example of them stays among
    the findings, its cause saying whose consequence it is. (The message names no count: each
    worker of a campaign localises the same, and merging keeps one of equal findings.)"""
    if not localised:
        return
    generic = [f for f in report.findings if f.kind == "end-to-end" and f.cause.startswith(GENERIC)]
    first = localised[0]
    for key in [k for k in report.causes if k[1].startswith(GENERIC)]:
        level = key[0]
        by_op = report.causes.pop(key)
        into = report.causes.setdefault((level, first.cause), {})
        into[first.op] = into.get(first.op, 0) + sum(by_op.values())
    keep = {id(f) for f in sorted(generic, key=lambda f: (f.level != MATH, f.index))[:1]}
    dropped = {id(f) for f in generic} - keep
    report.findings = [f for f in report.findings if id(f) not in dropped]
    for f in generic:
        if id(f) in keep:
            f.cause = f"{GENERIC} (a consequence of: {first.cause})"


def after_campaign(report: Report, checker: Any, forms: dict[str, tuple[str, ...]],
                   ops: Iterable[str], device: str) -> list[Finding]:
    """The campaign's hook: when ``report`` has an end-to-end contribution finding, the probes
    run once in ``checker``'s engine; the localised findings (root cause first) are returned and
    :func:`attach`\\ ed to ``report`` (the caller puts them first among its findings once the
    others are chosen and confirmed). [] when nothing is localised or the engine failed."""
    from vetgrad.conformance import interrupt
    from vetgrad.conformance.subject.execute import EngineFailureError

    if not needed(report) or interrupt.requested() or getattr(checker.engine, "hangs", 0):
        return []  # (an engine that hung on a graph could cost a timeout per probe)
    try:
        localised, _ = localise(checker, forms, ops, device, getattr(report, "composition", None) or None)
    except (EngineFailureError, interrupt.Interrupted):
        return []
    attach(report, localised)
    return localised
