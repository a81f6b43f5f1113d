"""The higher-order check (``--higher-order K``): d^k(root)/d(leaf 0)^k for k = 2..K in the engine
(its ``grad_of`` with ``create_graph``) against torch.autograd.grad(create_graph=True), and the
heuristics that leave a disagreement undecided where no comparison is sound. The engine's
derivative graph is read only through :meth:`Adapter.derivative_graph` (``NodeInfo``)."""

from __future__ import annotations

import math
from typing import Any

from vetgrad.conformance.dags.graph import Const, Graph, Node, operands
from vetgrad.conformance.judging import number as J  # noqa: N812 - short name for verdict constants
from vetgrad.conformance.judging.results import Finding, GraphResult, OpStats
from vetgrad.conformance.reference.torch_run import build_tensors, load_torch
from vetgrad.conformance.subject.adapters import NodeInfo
from vetgrad.conformance.subject.execute import EngineFailureError, EngineRun
from vetgrad.conformance.subject.session import EngineSession
from vetgrad.engine.ops import OPS


def check_higher_order(engine: EngineSession, k: int, graph: Graph, run: EngineRun, device: str,
                       max_order: int, result: GraphResult) -> list[Finding]:
    """d^k(root)/d(leaf 0)^k for k = 2..max_order against torch.autograd.grad(create_graph=
    True). A disagreement beyond 1e-6 is decided by central differences of the engine's own
    derivative of one order less (the independent oracle), never by a looser tolerance. Cases
    (and undecided ones) are counted in ``result``. ``engine`` is the session that ran the batch
    (LocalEngine or ChildEngine) and ``k`` the graph's place in it: the engine's side of the work
    (its derivatives, their graphs, finite differences) runs where the engine does."""
    if graph.ops() & {op.name for op in OPS.values() if not op.differentiable}:
        return []
    if run.grads is None or not all(math.isfinite(v) for v in run.values):
        return []
    tensors = build_tensors(graph, device)
    torch = load_torch()
    leaf = graph.leaves[0]
    tx, tg = tensors[leaf], tensors[-1]
    stats = result.per_op.setdefault("higher-order", OpStats())

    def undecided(ulps: float) -> list[Finding]:
        stats.add(J.IMPRECISE, ulps)
        result.imprecise += 1
        return []

    if _branches_differ(graph, run.values, [t.item() for t in tensors]):
        # e.g. max(tanh(x), c) at a tie in the engine, 1 ulp off it in torch (their libm
        # differ): the two derivatives are of different pieces of the function
        return undecided(0.0)
    zero_base = _masked_pow(graph, run.values)
    masking = any(OPS[name].masks_higher for name in graph.ops())
    ill_conditioned = _huge_quotient(graph, run.values)
    engine_derivatives = engine.derivatives(k, leaf, max_order)
    for order in range(1, max_order + 1):
        g = engine_derivatives[order - 1] if order <= len(engine_derivatives) else None
        if isinstance(g, str):
            raise EngineFailureError(f"the engine's grad_of raised {g} (order {order})")
        (tg,) = torch.autograd.grad(tg, [tx], create_graph=True, allow_unused=True)
        if tg is None or g is None:
            if (tg is None) != (g is None) and tg is not None and tg.item() != 0.0:
                if zero_base and math.isnan(tg.item()):
                    return undecided(0.0)  # torch's artifact: see _masked_pow
                return [Finding("higher-order", "graph", leaf, f"order {order}: engine says the root does not depend on leaf {leaf}; torch {tg.item()!r}", graph, device)]
            return []
        mine, theirs = g, tg.item()
        if order >= 2:
            if not J.float_mismatch(mine, theirs):
                stats.add(J.OK, J.ulp_distance(mine, theirs))
            elif (_rounding_or_float_edge(engine.derivative_graph(k, order), mine, theirs)
                  or (math.isnan(theirs) and (zero_base or masking)) or ill_conditioned
                  or _finite_difference_agrees(engine, graph, leaf, order, mine)):
                undecided(J.ulp_distance(mine, theirs))
            else:
                stats.add(J.FAIL, math.inf)
                return [Finding("higher-order", "graph", leaf,
                                f"d^{order}(root)/d(leaf {leaf})^{order} = {mine!r}, torch {theirs!r}",
                                graph, device)]
        if not tg.requires_grad:
            break
    return []


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


def _rounding_or_float_edge(nodes: list[NodeInfo], mine: float, theirs: float) -> bool:
    """Whether the engine's derivative graph explains the difference from torch's: rounding, an
    overflow, or an exact mask point (one walk of the graph serves the three checks)."""
    return (_within_rounding(nodes, mine, theirs) or _overflowing(nodes, mine, theirs)
            or _on_a_kink(nodes))


def _overflowing(nodes: list[NodeInfo], mine: float, theirs: float) -> bool:
    """Whether the derivative's own graph reaches float64's edge (|x| > 1e300 or inf), so that
    inf, -inf, nan or a huge number among the results depends only on the order of operations."""
    if all(math.isfinite(x) and abs(x) <= 1e300 for x in (mine, theirs)):
        return False
    return any(not math.isfinite(v.value) or abs(v.value) > 1e300 for v in nodes)


def _within_rounding(nodes: list[NodeInfo], mine: float, theirs: float) -> bool:
    """Whether float rounding inside the derivative's own graph can explain the difference: a sum
    over n nodes of magnitude at most S carries an error up to about n * eps * S (catastrophic
    cancellation, as in d2/dx2 (x / x) near 0, where torch's and our rules cancel differently)."""
    if not nodes or not (math.isfinite(mine) and math.isfinite(theirs)):
        return False
    # a constant operand (vetgrad keeps it as a float in the node) counts as an operand too
    numbers = [v.value for v in nodes] + [x for v in nodes for x, c in zip(v.inputs, v.constant) if c]
    scale = max((abs(x) for x in numbers if math.isfinite(x)), default=0.0)
    # 64 eps per term: a product of large terms carries several roundings (d^3(x/x)/dx^3 where
    # x = c % y: 4e-5 of noise against terms of 5e7; measured 5.6x over an 8-eps bound)
    return abs(mine - theirs) <= 64 * len(numbers) * J.EPS * scale


def _finite_difference_agrees(engine: EngineSession, graph: Graph, leaf: int, order: int, mine: float) -> bool:
    """Richardson-extrapolated central difference of the (order-1)-th derivative."""
    x = graph.nodes[leaf].value
    estimates = []
    for h in (1e-3, 5e-4):
        step = h * max(1.0, abs(x))
        up = engine.derivative_at(graph, leaf, x + step, order - 1)
        down = engine.derivative_at(graph, leaf, x - step, order - 1)
        estimates.append((up - down) / (2 * step))
    fd = (4 * estimates[1] - estimates[0]) / 3
    if not (math.isfinite(fd) and math.isfinite(mine)):
        return False
    return abs(mine - fd) <= 1e-4 * max(abs(fd), abs(mine), 1e-8)


# The facts below come from the op table's rows (``Op.branch``, ``kink``, ``leaks_nan``,
# ``ill_conditioned``, ``masks_higher``); these functions only apply them to a graph.


def _branch(node: Node, inputs: list[float]) -> tuple[Any, ...]:
    """Which piece of a piecewise op the inputs select (its kinks, ties and masks)."""
    branch = OPS[node.op].branch
    return () if branch is None else branch(*inputs, *node.params)


def _on_a_kink(nodes: list[NodeInfo]) -> bool:
    """Whether the engine's derivative graph sits exactly on a mask or kink (``Op.kink``: pow
    with exponent or base 0, a max/min tie, relu/abs at 0): there a where() formula drops terms
    that torch, its forward an ulp away, keeps; e.g. x ** y at y = 1: d/dy of
    (y - 1) * x ** (y - 2) is masked to 0 at y - 1 == 0 exactly."""
    for v in nodes:
        op = OPS.get(v.op) if v.op is not None else None
        if op is not None and op.kink is not None and len(v.inputs) == op.arity \
                and op.kink(*v.inputs):
            return True
    return False


def _any_node(graph: Graph, values: list[float], fact: str) -> bool:
    """Whether the row fact ``fact`` (a predicate of an op's inputs) holds at some node."""
    for node in graph.nodes:
        if node.op != "leaf":
            predicate = getattr(OPS[node.op], fact)
            if predicate is not None and predicate(*operands(node, values)):
                return True
    return False


def _huge_quotient(graph: Graph, values: list[float]) -> bool:
    """Whether an op's higher derivatives cancel far past float64 (``Op.ill_conditioned``: a
    ``%`` or ``//`` quotient beyond 1e6, whose k-th derivative sums terms of size quotient ** k
    that cancel, in torch as much as in the engine)."""
    return _any_node(graph, values, "ill_conditioned")


def _masked_pow(graph: Graph, values: list[float]) -> bool:
    """Whether torch's higher derivatives leak nan from a where() mask somewhere (``Op.leaks_nan``:
    pow with a base or exponent of 0, whose unselected branch holds 0 * log(0) or 0 * x ** -2;
    atan2 at the origin). Not a bug to copy."""
    return _any_node(graph, values, "leaks_nan")
