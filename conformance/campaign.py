"""Run graphs in an engine and in PyTorch and judge every value and gradient, locally (op by op on
the engine's own inputs) and end to end (the whole graph, where accumulation and ordering show)."""

from __future__ import annotations

import math
import random
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Sequence

import mpmath as mp

from conformance import judge as J  # noqa: N812 - short name for verdict constants
from conformance.adapters import Adapter, load_adapter, operand_forms
from conformance.generate import random_graph, resolve_ops
from conformance.graph import Const, Graph, Node
from conformance.reference import exact_derivatives, exact_value
from conformance.torch_ref import (
    ALIASED,
    LocalCase,
    TorchRun,
    build_tensors,
    load_torch,
    run_graph,
    run_graphs,
    run_local,
    run_scalar,
)
from engine.ops import OPS, public_ops


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

    def merge(self, other: Report) -> None:
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


# ---------------------------------------------------------------------------------------------


@dataclass
class EngineRun:
    values: list[float]
    handles: list[Any]
    crash: tuple[int, str] | None = None      # (node, error) in forward
    backward_error: str | None = None
    grads: list[float] | None = None
    repeat_error: str | None = None
    repeat_node: int = -1


def _build(adapter: Adapter, graph: Graph) -> EngineRun:
    handles: list[Any] = []
    values: list[float] = []
    for i, node in enumerate(graph.nodes):
        try:
            if node.op == "leaf":
                h = adapter.leaf(node.value)
            else:
                args = [a.value if isinstance(a, Const) else handles[a] for a in node.args]
                h = adapter.apply(OPS[node.op], args, node.params)
            v = adapter.value(h)
        except Exception as exc:
            return EngineRun(values, handles, (i, f"{type(exc).__name__}: {exc}"))
        handles.append(h)
        values.append(v)
    return EngineRun(values, handles)


def _backward(adapter: Adapter, run: EngineRun) -> None:
    try:
        adapter.backward(run.handles[-1])
        run.grads = [adapter.grad(h) for h in run.handles]
    except Exception as exc:
        run.backward_error = f"{type(exc).__name__}: {exc}"
        return
    # torch with retain_graph=True adds the same gradients again on a second backward, and so
    # must a micrograd-style engine (micrograd itself counts intermediate gradients twice).
    try:
        adapter.backward(run.handles[-1])
        again = [adapter.grad(h) for h in run.handles]
    except Exception as exc:
        run.repeat_error = f"a second backward raised {type(exc).__name__}: {exc}"
        return
    for i, (g, g2) in enumerate(zip(run.grads, again)):
        if not J.identical(g + g, g2):
            run.repeat_error = (f"a second backward left d(root)/d(node {i}) at {g2!r}; torch "
                                f"(retain_graph=True) adds the same again: {g + g!r}")
            run.repeat_node = i
            return


def _local_engine(adapter: Adapter, node: Node, inputs: tuple[float, ...],
                  aliased: bool = False) -> tuple[float, tuple[float, ...] | None, str | None]:
    """The op alone in the engine, on these inputs: its value and local derivatives. ``aliased``
    (``x op x``): one leaf as both operands, and the leaf's total derivative."""
    op = OPS[node.op]
    leaves: list[Any] = []
    args: list[Any] = []
    if aliased:
        leaves.append(adapter.leaf(inputs[0]))
        args = leaves * 2
    for a, x in ([] if aliased else zip(node.args, inputs)):
        if isinstance(a, Const):
            args.append(x)
        else:
            leaf = adapter.leaf(x)
            leaves.append(leaf)
            args.append(leaf)
    out = adapter.apply(op, args, node.params)
    value = adapter.value(out)
    try:
        adapter.backward(out)
    except Exception as exc:
        return value, None, f"{type(exc).__name__}: {exc}"
    if aliased:
        return value, (adapter.grad(leaves[0]),), None
    grads = iter(adapter.grad(leaf) for leaf in leaves)
    return value, tuple(next(grads) if not isinstance(a, Const) else math.nan for a in node.args), None


def _cancels(mine: float, exact: Any) -> bool:
    """Whether ``mine`` is the rounding of a sum that cancels: within a few eps of the terms."""
    if exact is None or not math.isfinite(mine):
        return False
    value, scale = exact
    return abs(mine - value) <= J.STRICT_FLOOR * J.EPS * scale


GRAPH_TIMEOUT = 60.0  # seconds the engine may spend on one graph (forward, backward, its ops)

# The op-table row of the check that a second backward() adds the same gradients again.
BACKWARD_TWICE = "backward x2"


def _aliased(node: Node) -> bool:
    """``x op x``: one node as both operands (an engine may take a shortcut there)."""
    return len(node.args) == 2 and not isinstance(node.args[0], Const) and node.args[0] == node.args[1]


class EngineTimeoutError(Exception):
    """The engine spent longer than the graph timeout on one graph."""


@contextmanager
def _deadline(seconds: float | None) -> Iterator[None]:
    """Raise EngineTimeoutError inside whatever runs after ``seconds`` (then every second, in case the
    engine swallows it). Needs SIGALRM and the main thread; elsewhere there is no deadline."""
    if not seconds or not hasattr(signal, "setitimer") or \
            threading.current_thread() is not threading.main_thread():
        yield
        return

    def alarm(signum: int, frame: Any) -> None:
        raise EngineTimeoutError(f"no result after {seconds:g} s: an op or a backward() that never "
                            f"ends? (--graph-timeout)")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds, 1.0)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class Checker:
    """Judges graphs for one engine on one device."""

    def __init__(self, adapter: Adapter, device: str, strict: bool, higher_order: int = 0,
                 graph_timeout: float | None = GRAPH_TIMEOUT) -> None:
        self.adapter, self.device, self.strict = adapter, device, strict
        self.higher_order = higher_order if adapter.supports_higher_order else 0
        self.graph_timeout = graph_timeout

    def _run_engine(self, graph: Graph, cases: list[LocalCase]) -> tuple[EngineRun, list]:
        """The graph in the engine (forward, backward twice), and each op alone on its inputs."""
        run = _build(self.adapter, graph)
        if run.crash is None:
            _backward(self.adapter, run)
        locals_: list = []
        if run.crash is None:
            for i, node in enumerate(graph.nodes):
                if node.op == "leaf":
                    continue
                inputs = tuple(a.value if isinstance(a, Const) else run.values[a] for a in node.args)
                checks = [(node.form, inputs)] + ([(ALIASED, inputs[:1])] if _aliased(node) else [])
                for form, xs in checks:
                    try:
                        mine = _local_engine(self.adapter, node, xs, aliased=form == ALIASED)
                    except Exception as exc:
                        mine = (math.nan, None, f"crash: {type(exc).__name__}: {exc}")
                    locals_.append((i, node, xs, mine, len(cases)))
                    cases.append(LocalCase(OPS[node.op], form, xs, node.params))
        return run, locals_

    def check(self, graphs: Sequence[Graph], indices: Sequence[int], report: Report) -> None:
        prepared = []
        cases: list[LocalCase] = []
        for graph in graphs:
            try:
                with _deadline(self.graph_timeout):
                    run, locals_ = self._run_engine(graph, cases)
            except EngineTimeoutError as exc:
                run, locals_ = EngineRun([], [], (graph.root, f"EngineTimeoutError: {exc}")), []
            prepared.append((graph, run, locals_))
        torch_locals = run_local(cases, self.device) if cases else []
        refs = run_graphs([g for g, run, _ in prepared], self.device)
        for (graph, run, locals_), index, ref in zip(prepared, indices, refs):
            scratch = Report(report.engine, 0, self.strict, [], [])
            findings = self._judge_graph(graph, run, locals_, torch_locals, ref, scratch)
            if findings and ref.batched:
                # ask torch's 0-d kernels, the ones a graph of scalars meets, before reporting
                scratch = Report(report.engine, 0, self.strict, [], [])
                findings = self._judge_graph(graph, run, locals_, torch_locals,
                                             run_graph(graph, self.device), scratch)
            if not findings and self.higher_order:
                try:
                    with _deadline(self.graph_timeout):
                        findings = self._higher_order(graph, run, scratch)
                except EngineTimeoutError as exc:
                    findings = [Finding("crash", "higher-order", graph.root, f"EngineTimeoutError: {exc}",
                                        graph, self.device)]
            report.imprecise_graphs += scratch.imprecise_graphs
            for name, stats in scratch.per_op.items():
                report.per_op.setdefault(name, OpStats()).merge(stats)
            report.graphs += 1
            if findings:
                report.failed += 1
                where = max(index, 0)  # the edge sweep (index -1) comes before graph 0
                if report.first_failure is None or where < report.first_failure:
                    report.first_failure = where
                for f in findings[:1]:  # the first finding of a graph explains it
                    f.index = index
                    report.findings.append(f)
                    key = f"{f.kind} in {f.op}"
                    report.kinds[key] = report.kinds.get(key, 0) + 1
            else:
                report.passed += 1

    def _higher_order(self, graph: Graph, run: EngineRun, report: Report) -> list[Finding]:
        """d^k(root)/d(leaf 0)^k for k = 2..higher_order against torch.autograd.grad(create_graph=
        True). A disagreement beyond 1e-6 is decided by central differences of the engine's own
        derivative of one order less (the independent oracle), never by a looser tolerance."""
        if graph.ops() & {op.name for op in OPS.values() if not op.differentiable}:
            return []
        if run.grads is None or not all(math.isfinite(v) for v in run.values):
            return []
        tensors = build_tensors(graph, self.device)
        torch = load_torch()
        leaf = graph.leaves[0]
        x, tx = run.handles[leaf], tensors[leaf]
        g, tg = run.handles[-1], tensors[-1]
        stats = report.per_op.setdefault("higher-order", OpStats())

        def undecided(ulps: float) -> list[Finding]:
            stats.add(J.IMPRECISE, ulps)
            report.imprecise_graphs += 1
            return []

        if _branches_differ(graph, run.values, [t.item() for t in tensors]):
            # e.g. max(tanh(x), c) at a tie in the engine, 1 ulp off it in torch (their libm
            # differ): the two derivatives are of different pieces of the function
            return undecided(0.0)
        zero_base = _masked_pow(graph, run.values)
        masking = bool(graph.ops() & _MASKING_HIGHER)
        ill_conditioned = _huge_quotient(graph, run.values)
        for order in range(1, self.higher_order + 1):
            (g,) = self.adapter.grad_of(g, [x], create_graph=True)
            (tg,) = torch.autograd.grad(tg, [tx], create_graph=True, allow_unused=True)
            if tg is None or g is None:
                if (tg is None) != (g is None) and tg is not None and tg.item() != 0.0:
                    if zero_base and math.isnan(tg.item()):
                        return undecided(0.0)  # torch's artifact: see _masked_pow
                    return [Finding("higher-order", "graph", leaf, f"order {order}: engine says the root does not depend on leaf {leaf}; torch {tg.item()!r}", graph, self.device)]
                return []
            mine, theirs = self.adapter.value(g), tg.item()
            if order >= 2:
                if not float_mismatch(mine, theirs):
                    stats.add(J.OK, J.ulp_distance(mine, theirs))
                elif (_rounding_or_float_edge(g, mine, theirs)
                      or (math.isnan(theirs) and (zero_base or masking)) or ill_conditioned
                      or _finite_difference_agrees(self.adapter, graph, leaf, order, mine)):
                    undecided(J.ulp_distance(mine, theirs))
                else:
                    stats.add(J.FAIL, math.inf)
                    return [Finding("higher-order", "graph", leaf,
                                    f"d^{order}(root)/d(leaf {leaf})^{order} = {mine!r}, torch {theirs!r}",
                                    graph, self.device)]
            if not tg.requires_grad:
                break
        return []

    def _judge_aliased(self, node: Node, x: float, mine: tuple, theirs: tuple,
                       stats: dict[str, OpStats]) -> tuple[str, str] | None:
        """``x op x`` with one leaf: value, and the sum of both contributions to the leaf."""
        value, grads, error = mine
        t_value, t_grads = theirs
        if _disagrees(value, grads, t_value, t_grads):  # ask torch's 0-d kernels, as _judge_local
            t_value, t_grads = run_scalar(LocalCase(OPS[node.op], ALIASED, (x,), node.params), self.device)
        st = stats.setdefault(node.op, OpStats())
        name, params = node.op, node.params
        call = f"{node.op}(x, x) with x = {x!r} (one node as both operands)"
        verdict, ulps = J.judge(value, t_value, lambda: exact_value(name, (x, x), params), self.strict)
        st.add(verdict, ulps)
        if verdict == J.FAIL:
            return "local-value", f"{call} = {value!r}, torch {t_value!r}"
        if not OPS[node.op].differentiable:
            return None
        if grads is None:
            st.add(J.FAIL, math.inf)
            return "crash", f"backward of {call} raised {error}; torch returns {t_grads!r}"

        def total() -> Any:
            parts = exact_derivatives(name, (x, x), value, params)
            return None if not parts else (parts[0][0] + parts[1][0], parts[0][1] + parts[1][1])

        verdict, ulps = J.judge(grads[0], t_grads[0], total, self.strict)
        if verdict == J.FAIL and _cancels(grads[0], total()):
            verdict = J.IMPRECISE  # d(x / x)/dx: two contributions cancel to an exact 0 or so
        st.add(verdict, ulps)
        if verdict == J.FAIL:
            return "local-grad", f"d/dx of {call} = {grads[0]!r}, torch {t_grads[0]!r}"
        return None

    def _judge_local(self, node: Node, inputs: tuple[float, ...], mine: tuple, theirs: tuple,
                     stats: dict[str, OpStats], local_derivs: dict[int, tuple[float, ...]],
                     i: int) -> tuple[str, str] | None:
        """Judge one op on the engine's own inputs: (kind, message) of a finding, or None. Where
        torch's operator and torch's function differ and both are sound (``c / x``), an engine
        may follow either."""
        scratch: dict[str, OpStats] = {}
        found = self._judge_local_against(node, inputs, mine, theirs, scratch, local_derivs, i, True)
        if found is not None and (node.op, node.form) in _EITHER_REFERENCE:
            alternative = run_scalar(LocalCase(OPS[node.op], node.form, inputs, node.params),
                                     self.device, operator=False)
            alt_scratch: dict[str, OpStats] = {}
            if self._judge_local_against(node, inputs, mine, alternative, alt_scratch, local_derivs,
                                         i, False) is None:
                found, scratch = None, alt_scratch
        for name, st in scratch.items():
            stats.setdefault(name, OpStats()).merge(st)
        return found

    def _judge_local_against(self, node: Node, inputs: tuple[float, ...], mine: tuple,
                             theirs: tuple, stats: dict[str, OpStats],
                             local_derivs: dict[int, tuple[float, ...]], i: int,
                             operator: bool) -> tuple[str, str] | None:
        value, grads, error = mine
        t_value, t_grads = theirs
        if grads is not None and J.identical(value, t_value) and all(
                J.identical(g, t) for g, t in zip(grads, t_grads)):
            st = stats.setdefault(node.op, OpStats())  # the common case: bit-identical
            checked = 1 + sum(not isinstance(a, Const) for a in node.args)
            st.cases += checked
            st.passed += checked
            local_derivs[i] = grads
            return None
        if _disagrees(value, grads, t_value, t_grads):
            t_value, t_grads = run_scalar(LocalCase(OPS[node.op], node.form, inputs, node.params),
                                          self.device, operator=operator)
        st = stats.setdefault(node.op, OpStats())
        name, ref_inputs, params = _ref_name(node), _ref_inputs(node, inputs), _ref_params(node)
        verdict, ulps = J.judge(value, t_value, lambda: exact_value(name, ref_inputs, params), self.strict)
        st.add(verdict, ulps)
        if verdict == J.FAIL:
            return "local-value", f"{_call(node, inputs)} = {value!r}, torch {t_value!r}"
        if not OPS[node.op].differentiable:
            if error is None:
                st.add(J.FAIL, math.inf)
                return "raises", f"backward through {node.op} returned gradients; torch raises"
            return None
        if grads is None:
            st.add(J.FAIL, math.inf)
            return "crash", f"backward of {_call(node, inputs)} raised {error}; torch returns {t_grads!r}"
        local_derivs[i] = grads
        exact: list[Any] = []

        def reference(pos: int) -> Any:
            if not exact:
                exact.append(exact_derivatives(name, ref_inputs, value, params))
            return exact[0][pos] if exact[0] else None

        for pos, (g, tg) in enumerate(zip(grads, t_grads)):
            if isinstance(node.args[pos], Const):
                continue
            verdict, ulps = J.judge(g, tg, lambda pos=pos: reference(pos), self.strict)
            st.add(verdict, ulps)
            if verdict == J.FAIL:
                return "local-grad", f"d/d(arg {pos}) of {_call(node, inputs)} = {g!r}, torch {tg!r}"
        return None

    def _judge_graph(self, graph: Graph, run: EngineRun, locals_: list, torch_locals: list,
                     ref: TorchRun, report: Report) -> list[Finding]:
        findings: list[Finding] = []
        stats = report.per_op

        def find(kind: str, op: str, node: int, message: str) -> None:
            findings.append(Finding(kind, op, node, message, graph, self.device))

        if run.crash is not None:
            node, error = run.crash
            op = graph.nodes[node].op
            stats.setdefault(op, OpStats()).add(J.FAIL, math.inf)
            find("crash", op, node, f"engine raised {error} where torch returns {ref.values[node]!r}")
            return findings
        # Local: each op on the engine's own inputs.
        local_derivs: dict[int, tuple[float, ...]] = {}
        for i, node, inputs, mine, k in locals_:
            if len(inputs) < len(node.args):  # x op x, one leaf as both operands
                message = self._judge_aliased(node, inputs[0], mine, torch_locals[k], stats)
            else:
                message = self._judge_local(node, inputs, mine, torch_locals[k], stats, local_derivs, i)
            if message is not None:
                find(message[0], node.op, i, message[1])
        if findings:
            return findings
        # End to end.
        if (run.backward_error is not None) != (ref.grads is None):
            op = next((n.op for n in graph.nodes if n.op != "leaf" and not OPS[n.op].differentiable), "graph")
            if ref.grads is None:
                find("raises", op, graph.root, f"engine backward returned; torch raised: {ref.error}")
            else:
                find("crash", "graph", graph.root, f"engine backward raised {run.backward_error}")
            return findings
        # Every value was judged locally from its inputs: what differs end to end is rounding
        # carried along the graph, never a bug of its own.
        imprecise = any(float_mismatch(v, tv) for v, tv in zip(run.values, ref.values))
        if ref.grads is not None and run.grads is not None:
            replay = None
            for i, (g, tg) in enumerate(zip(run.grads, ref.grads)):
                if not float_mismatch(g, tg):
                    continue
                if replay is None:
                    replay = _replay(graph, local_derivs)
                if replay is None or not _explained(g, replay, i, len(graph.nodes)):
                    exact = None if replay is None else float(replay[0][i])
                    find("end-to-end", "graph", i,
                         f"d(root)/d(node {i}) = {g!r}, torch {tg!r}, exact replay of the engine's own "
                         f"local derivatives {exact!r}: the engine's backward does not sum what its own "
                         f"ops give (a contribution lost, doubled or sent to the wrong node, or a grad "
                         f"changed after the pass)")
                    return findings
                imprecise = True
        twice = stats.setdefault(BACKWARD_TWICE, OpStats())
        if run.repeat_error is not None:
            twice.add(J.FAIL, math.inf)
            node = max(run.repeat_node, 0)
            find("repeat-backward", "graph", node, run.repeat_error)
            return findings
        if run.grads is not None:
            twice.add(J.OK, 0.0)
        if imprecise:
            report.imprecise_graphs += 1
        return findings


def _disagrees(value: float, grads: tuple[float, ...] | None, t_value: float, t_grads: tuple[float, ...]) -> bool:
    if not J.identical(value, t_value) and J.ulp_distance(value, t_value) > J.CLOSE_ULPS:
        return True
    return grads is not None and any(
        g == g and not J.identical(g, t) and J.ulp_distance(g, t) > J.CLOSE_ULPS
        for g, t in zip(grads, t_grads))


def _branch(node: Node, inputs: list[float]) -> tuple[Any, ...]:
    """Which piece of a piecewise op the inputs select (its kinks, ties and masks)."""
    name = node.op
    if name in ("maximum", "minimum"):
        a, b = inputs
        return (a != a, b != b, (a > b) - (a < b))
    if name in ("relu", "abs", "leaky_relu"):
        return ((inputs[0] > 0.0) - (inputs[0] < 0.0),)
    if name == "clamp":
        lo, hi = node.params
        x = inputs[0]
        return tuple(None if bound is None else (x > bound) - (x < bound) for bound in (lo, hi))
    if name == "softplus":
        return (inputs[0] > 20.0, inputs[0] < 20.0)
    if name == "pow":
        return (inputs[0] == 0.0, inputs[1] == 0.0, inputs[1] >= 0.0)
    if name in ("mod", "floordiv"):
        a, b = inputs
        return (math.floor(a / b) if b != 0.0 and math.isfinite(a / b) else None,)
    return ()


def _branches_differ(graph: Graph, mine: list[float], theirs: list[float]) -> bool:
    """Whether the engine's and torch's forward values take different pieces of a piecewise op
    somewhere (their elementary functions round differently: 1 ulp can cross a tie)."""
    for node in graph.nodes:
        if node.op == "leaf":
            continue
        ours = [a.value if isinstance(a, Const) else mine[a] for a in node.args]
        torchs = [a.value if isinstance(a, Const) else theirs[a] for a in node.args]
        if ours != torchs and _branch(node, ours) != _branch(node, torchs):
            return True
    return False


# Ops whose torch backward is a where() mask: from the second derivative on, a nan in the branch
# the mask drops (0 * log(0), inf - inf) leaks into torch's result, where the function is smooth
# or constant. A finite engine there is not judged against torch's nan.
_MASKING_HIGHER = frozenset({"relu", "clamp", "maximum", "minimum", "abs", "pow"})


def _rounding_or_float_edge(g: Any, mine: float, theirs: float) -> bool:
    """Whether the engine's derivative graph explains the difference from torch's: rounding, an
    overflow, or an exact mask point (one walk of the graph serves the three checks)."""
    nodes = _derivative_nodes(g)
    return (_within_rounding(nodes, mine, theirs) or _overflowing(nodes, mine, theirs)
            or _on_a_kink(nodes))


def _derivative_nodes(g: Any) -> list[Any]:
    """The nodes of a derivative the engine built (vetgrad's Values); [] for another engine."""
    from engine.autograd import topological_order

    return topological_order((g,)) if hasattr(g, "_prev") else []


def _on_a_kink(nodes: list[Any]) -> bool:
    """Whether the engine's derivative graph sits exactly on a mask or kink (pow with exponent or
    base 0, a max/min tie, relu/abs at 0): there a where() formula drops terms that torch, its
    forward an ulp away, keeps; e.g. x ** y at y = 1: d/dy of (y - 1) * x ** (y - 2) is masked
    to 0 at y - 1 == 0 exactly."""
    for v in nodes:
        op, a, b = v.op, v._a, v._b
        if op is None or a is None:
            continue
        x = a.data
        y = b if isinstance(b, float) else (b.data if b is not None else None)
        name = op.name
        if name == "pow" and (x == 0.0 or y == 0.0):
            return True
        if name in ("maximum", "minimum") and x == y:
            return True
        if name in ("relu", "abs", "relu_backward") and (x == 0.0 or y == 0.0):
            return True
    return False


def _huge_quotient(graph: Graph, values: list[float]) -> bool:
    """Whether a ``%`` or ``//`` divides into a quotient beyond 1e6: d(a % b)/db is -floor(a / b),
    so the k-th derivative is a sum of terms of size quotient ** k that cancel (x % y / (x % y))
    far past what float64 resolves, in torch as much as in the engine."""
    for node in graph.nodes:
        if node.op in ("mod", "floordiv"):
            a, b = (x.value if isinstance(x, Const) else values[x] for x in node.args)
            if b != 0.0 and math.isfinite(a) and abs(a / b) > 1e6:
                return True
    return False


def _overflowing(nodes: list[Any], mine: float, theirs: float) -> bool:
    """Whether the derivative's own graph reaches float64's edge (|x| > 1e300 or inf), so that
    inf, -inf, nan or a huge number among the results depends only on the order of operations."""
    if all(math.isfinite(x) and abs(x) <= 1e300 for x in (mine, theirs)):
        return False
    return any(not math.isfinite(v.data) or abs(v.data) > 1e300 for v in nodes)


def _masked_pow(graph: Graph, values: list[float]) -> bool:
    """Whether some ``pow`` has a base or an exponent of 0. torch's higher derivatives there come
    from where() masks whose unselected branch holds 0 * log(0) or 0 * x ** -2 (inf): nan leaks
    through the mask's own backward where the function's derivative is 0. Not a bug to copy."""
    for node in graph.nodes:
        if node.op == "pow":
            base, exponent = (a.value if isinstance(a, Const) else values[a] for a in node.args)
            if base == 0.0 or exponent == 0.0:
                return True
    return False


def _within_rounding(nodes: list[Any], mine: float, theirs: float) -> bool:
    """Whether float rounding inside the derivative's own graph can explain the difference: a sum
    over n nodes of magnitude at most S carries an error up to about n * eps * S (catastrophic
    cancellation, as in d2/dx2 (x / x) near 0, where torch's and our rules cancel differently)."""
    if not nodes or not (math.isfinite(mine) and math.isfinite(theirs)):
        return False
    # vetgrad keeps a constant operand as a float in the node (ConstOp): count it as an operand.
    numbers = [v.data for v in nodes] + [v._b for v in nodes if isinstance(v._b, float)]
    scale = max((abs(x) for x in numbers if math.isfinite(x)), default=0.0)
    # 64 eps per term: a product of large terms carries several roundings (d^3(x/x)/dx^3 where
    # x = c % y: 4e-5 of noise against terms of 5e7; measured 5.6x over an 8-eps bound)
    return abs(mine - theirs) <= 64 * len(numbers) * J.EPS * scale


def _derivative_at(adapter: Adapter, graph: Graph, leaf: int, x: float, order: int) -> float:
    nodes = list(graph.nodes)
    nodes[leaf] = Node("leaf", value=x)
    run = _build(adapter, Graph(tuple(nodes)))
    g, at = run.handles[-1], run.handles[leaf]
    for _ in range(order):
        (g,) = adapter.grad_of(g, [at], create_graph=True)
        if g is None:
            return 0.0
    return adapter.value(g)


def _finite_difference_agrees(adapter: Adapter, graph: Graph, leaf: int, order: int, mine: float) -> bool:
    """Richardson-extrapolated central difference of the (order-1)-th derivative."""
    x = graph.nodes[leaf].value
    estimates = []
    for h in (1e-3, 5e-4):
        step = h * max(1.0, abs(x))
        up = _derivative_at(adapter, graph, leaf, x + step, order - 1)
        down = _derivative_at(adapter, graph, leaf, x - step, order - 1)
        estimates.append((up - down) / (2 * step))
    fd = (4 * estimates[1] - estimates[0]) / 3
    if not (math.isfinite(fd) and math.isfinite(mine)):
        return False
    return abs(mine - fd) <= 1e-4 * max(abs(fd), abs(mine), 1e-8)


def float_mismatch(a: float, b: float) -> bool:
    from conformance.numerics import float_class, ulp_distance

    if J.identical(a, b):
        return False
    if float_class(a) != float_class(b):
        return True
    return ulp_distance(a, b) > J.CLOSE_ULPS and abs(a - b) > J.DEFAULT_REL * abs(b)


def _replay(graph: Graph, local_derivs: dict[int, tuple[float, ...]]) -> tuple[list, list, list] | None:
    """Exact reverse accumulation of the engine's own local derivatives (and of their absolute
    values, which bounds what float rounding can explain), and which gradients a non-finite local
    derivative reached."""
    with mp.workprec(200):
        n = len(graph.nodes)
        g = [mp.mpf(0)] * n
        bound = [mp.mpf(0)] * n
        overflowed = [False] * n
        g[-1] = bound[-1] = mp.mpf(1)
        for i in range(n - 1, -1, -1):
            node = graph.nodes[i]
            if node.op == "leaf":
                continue
            ds = local_derivs.get(i)
            if ds is None:
                return None
            for pos, a in enumerate(node.args):
                if isinstance(a, Const):
                    continue
                d = mp.mpf(ds[pos])
                if d == 0 and _masks(node, pos):
                    continue  # where(mask, grad, 0): a nan or inf upstream does not pass
                g[a] += g[i] * d
                bound[a] += bound[i] * abs(d)
                overflowed[a] = overflowed[a] or overflowed[i] or not mp.isfinite(d)
        return g, bound, overflowed


# (op, form) where torch's operator (``c / x``: reciprocal(x) * c) and torch's function
# (torch.div(c, x)) round differently, overflow differently (1e-20 / 5e-324: inf or 2e303), and
# both are sound: the local check accepts an engine that follows either.
_EITHER_REFERENCE = frozenset({("div", "cn")})

# Ops whose zero derivative is torch's where(..., 0) rather than a product with 0
# (derivatives.yaml: threshold_backward, clamp_backward, max/min masked_fill, pow's exponent == 0).
_MASKING = frozenset({"relu", "clamp", "maximum", "minimum"})


def _masks(node: Node, pos: int) -> bool:
    return node.op in _MASKING or (node.op == "pow" and pos == 0)


def _explained(mine: float, replay: tuple[list, list, list], i: int, n: int) -> bool:
    exact, bound = replay[0][i], replay[1][i]
    if replay[2][i] and not mp.isfinite(exact):
        # an overflowed local derivative (1 / 5e-324 = inf) reached this gradient: +inf + -inf
        # or 0 * inf then depends on the order of float operations, which no replay can decide
        return True
    if not mp.isfinite(exact) or not mp.isfinite(bound):
        return J.float_class(mine) == J.float_class(float(exact)) if mp.isfinite(exact) or mp.isnan(exact) else True
    as_float = float(exact)
    if J.float_class(mine) != J.float_class(as_float):
        # overflow or underflow at the edge of float64 is rounding too
        return abs(mine - exact) <= 4 * n * J.EPS * bound + 2.0**-1060 if math.isfinite(mine) else bound > 1e300
    return abs(mine - exact) <= J.DEFAULT_REL * abs(exact) + 4 * n * J.EPS * bound + 2.0**-1060


# Local cases of 'pow' with a constant exponent are torch's pow(Tensor, Scalar).
def _ref_name(node: Node) -> str:
    return "pow_scalar" if node.op == "pow" and node.form == "nc" else node.op


def _ref_inputs(node: Node, inputs: tuple[float, ...]) -> tuple[float, ...]:
    return inputs[:1] if _ref_name(node) == "pow_scalar" else inputs


def _ref_params(node: Node) -> tuple[Any, ...]:
    if _ref_name(node) == "pow_scalar":
        return (node.args[1].value,)  # type: ignore[union-attr]
    return node.params


def _call(node: Node, inputs: tuple[float, ...]) -> str:
    args = ", ".join(repr(x) for x in inputs)
    params = "".join(f", {p!r}" for p in node.params)
    return f"{node.op}({args}{params})"


# ---------------------------------------------------------------------------------------------


def graph_seed(seed: int, index: int) -> int:
    """The seed of graph ``index`` of a campaign: independent of workers and shards."""
    return (seed * 1_000_003 + index) & 0xFFFFFFFFFFFF


def run_campaign(
    engine: str | type | Adapter = "engine:Value",
    *,
    graphs: int | None = 1000,
    seconds: float | None = None,
    seed: int = 0,
    max_nodes: int = 30,
    ops: Sequence[str] | None = None,
    device: str = "cpu",
    strict: bool = False,
    shard: tuple[int, int] = (1, 1),
    batch: int = 256,
    progress: Callable[[Report], None] | None = None,
    max_findings: int = 20,
    shrink: bool = True,
    higher_order: int = 0,
    edges: bool = True,
    graph_timeout: float | None = GRAPH_TIMEOUT,
) -> Report:
    """Check ``graphs`` random graphs (or as many as fit in ``seconds``) of one engine on one
    device (``cpu`` or ``cuda``) and return the report. Graph ``i`` of shard ``K/N`` is global
    graph ``K-1 + i*N``, so shards never overlap and any machine reproduces any graph.

    With ``edges`` (the default; shard 1 only) an exhaustive sweep comes first: every op in every
    operand form on every pair of its kink and edge values (``x ** 0`` at 0, ties, ±inf, nan),
    one graph per op and form, reported with graph index -1."""
    if graphs is None and seconds is None:
        raise ValueError("give graphs or seconds (or both)")
    adapter = load_adapter(engine)
    wanted = [op.name for op in resolve_ops(ops)]
    forms = adapter.forms()
    tested = [name for name in wanted if name in forms]
    report = Report(adapter.name, seed, strict, [device], tested,
                    unsupported={name: [] for name in wanted if name not in forms})
    for name in tested:
        full = operand_forms(OPS[name])
        missing = [f for f in full if f not in forms[name]]
        if missing:
            report.unsupported[name] = missing
    if not tested:
        return report
    checker = Checker(adapter, device, strict, higher_order, graph_timeout)
    k, n = shard
    start = time.perf_counter()
    if edges and k == 1:
        sweep = edge_graphs(tested, forms)
        checker.check(sweep, [-1] * len(sweep), report)
    i = 0
    while graphs is None or i < graphs:
        if seconds is not None and time.perf_counter() - start > seconds:
            break
        count = batch if graphs is None else min(batch, graphs - i)
        indices = [(k - 1) + (i + j) * n for j in range(count)]
        chunk = [_generate(seed, index, max_nodes, tested, forms) for index in indices]
        checker.check(chunk, indices, report)
        i += count
        if progress is not None:
            progress(report)
    report.elapsed = time.perf_counter() - start
    report.findings = select_findings(report.findings, max_findings)
    if shrink:
        from conformance.shrink import reproducer, shrink_finding

        for f in report.findings:
            if len(f.graph.nodes) <= 1000:  # a deep chain's failure is its depth: keep it whole
                shrink_finding(f, checker)
            f.reproducer = reproducer(f, engine if isinstance(engine, str) else adapter.name)
    return report


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


SWEEP_CORE = (0.0, -0.0, 1.0, -1.0, 2.0, -2.5, math.inf, -math.inf, math.nan, 1e-300, 1e300)


def edge_graphs(ops: Sequence[str], forms: dict[str, tuple[str, ...]]) -> list[Graph]:
    """One graph per op and operand form: the op on every combination of its special points
    (``Op.special``: kinks, ties, domain edges) and the core edge values, summed into the root."""
    graphs = []
    for name in ops:
        op = OPS[name]
        values = list(dict.fromkeys((*SWEEP_CORE, *op.special)))
        params_list = _sweep_params(op)
        for form in forms.get(name, ()):
            nodes: list[Node] = []
            outs: list[int] = []
            combos = [(x,) for x in values] if op.arity == 1 else [(x, y) for x in values for y in values]
            for combo in combos:
                for params in params_list:
                    args: list[int | Const] = []
                    for f, x in zip(form, combo):
                        if f == "c":
                            args.append(Const(x))
                        else:
                            nodes.append(Node("leaf", value=x))
                            args.append(len(nodes) - 1)
                    nodes.append(Node(name, tuple(args), params))
                    outs.append(len(nodes) - 1)
            total = outs[0]
            for o in outs[1:]:
                nodes.append(Node("add", (total, o)))
                total = len(nodes) - 1
            graphs.append(Graph(tuple(nodes), None))
    if "add" in forms:
        graphs.append(deep_chain(DEEP_CHAIN, const="nc" in forms["add"]))
    return graphs


DEEP_CHAIN = 2500  # deeper than Python's default recursion limit (1000)


def deep_chain(depth: int, const: bool = True) -> Graph:
    """x, x + 0.25, (x + 0.25) + 0.25, ...: an engine must not have a depth limit (micrograd's
    recursive topological sort raises RecursionError near 1,000)."""
    nodes = [Node("leaf", value=0.5)]
    if not const:
        nodes.append(Node("leaf", value=0.25))
    step: Const | int = Const(0.25) if const else 1
    nodes.append(Node("add", (0, step)))
    for _ in range(depth - 1):
        nodes.append(Node("add", (len(nodes) - 1, step)))
    return Graph(tuple(nodes), None)


def _sweep_params(op: Any) -> list[tuple[Any, ...]]:
    if op.name == "leaky_relu":
        return [(0.01,), (0.2,)]
    if op.name == "clamp":
        return [(-1.0, 1.0), (0.0, None), (None, 0.5), (1.0, -1.0)]
    return [()]


def _generate(seed: int, index: int, max_nodes: int, ops: list[str], forms: dict[str, tuple[str, ...]]) -> Graph:
    rng = random.Random(graph_seed(seed, index))
    graph = random_graph(rng, max_nodes=max_nodes, ops=ops)
    graph = _restrict_forms(graph, forms)
    return Graph(graph.nodes, index)


def _restrict_forms(graph: Graph, forms: dict[str, tuple[str, ...]]) -> Graph:
    """Turn constant operands into leaves where the engine lacks that form (micrograd has no
    ``2 ** x``): the graph stays the same computation."""
    if all(len(forms.get(name, ())) == len(operand_forms(OPS[name])) for name in graph.ops()):
        return graph
    nodes = list(graph.nodes)
    out: list[Node] = []
    remap: dict[int, int] = {}
    for i, node in enumerate(nodes):
        if node.op != "leaf":
            form = node.form
            args = [remap[a] if isinstance(a, int) else a for a in node.args]
            allowed = forms.get(node.op, ())
            if form not in allowed and "nn" in allowed:
                for pos, a in enumerate(args):
                    if isinstance(a, Const):
                        out.append(Node("leaf", value=a.value))
                        args[pos] = len(out) - 1
            elif form not in allowed:  # e.g. only Value ** number: make the other operand a constant
                keep = "nc" if "nc" in allowed else "cn"
                pos = 1 if keep == "nc" else 0
                args[pos] = Const(1.5)
                if all(isinstance(a, Const) for a in args):
                    args[1 - pos] = remap.get(0, 0)
            node = Node(node.op, tuple(args), node.params)
        out.append(node)
        remap[i] = len(out) - 1
    return Graph(tuple(out), graph.seed)


def all_ops() -> list[str]:
    return [op.name for op in public_ops()]

