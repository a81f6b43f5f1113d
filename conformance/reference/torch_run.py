"""The reference side: PyTorch float64 on a device, end to end per graph and op by op in batches."""

from __future__ import annotations

import gc
import math
from dataclasses import dataclass
from typing import Any, NamedTuple, Sequence

from vetgrad.conformance.dags.graph import ALIASED, Const, Graph
from vetgrad.engine.ops import OPS, Op

_loaded: list[Any] = []  # torch, once imported and frozen


def load_torch() -> Any:
    """torch. The first call also freezes everything alive then (torch's ~170k objects, the
    harness's modules) out of the cyclic GC's walks: a campaign spent ~28% of its CPU in the
    collector walking them, and an interpreter's exit walked them once more (0.4 s)."""
    if _loaded:
        return _loaded[0]
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - the conformance extra installs it
        from vetgrad._extras import install_hint

        raise SystemExit("the conformance harness needs PyTorch, which is not installed: "
                         + install_hint("conformance")) from exc
    gc.collect()
    gc.freeze()
    _loaded.append(torch)
    return torch


def available_devices() -> list[str]:
    torch = load_torch()
    return ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@dataclass
class TorchRun:
    values: list[float]
    grads: list[float] | None  # None: backward raised (as it must through '//')
    error: str | None = None
    batched: bool = False




def apply_op(torch: Any, name: str, args: Sequence[Any], params: tuple[Any, ...],
             scalar_exponent: float | None = None, form: str = "") -> Any:
    """Op ``name`` on tensors, as torch computes the expression a user writes. ``x ** c`` with a
    Python-number exponent is torch's pow(Tensor, Scalar), whose special cases (c = 2, 3, -1, -2,
    ±0.5) differ from pow(Tensor, Tensor): pass ``scalar_exponent`` for it. ``c / x`` with a
    number on the left (``form`` "cn") is ``Tensor.__rtruediv__``: reciprocal(x) * c. ``form``
    ALIASED: the one tensor in ``args`` is both operands."""
    op = OPS[name]
    if scalar_exponent is not None:
        return OPS[op.scalar_form].torch(torch, args[0], scalar_exponent)  # type: ignore[index]
    if form == ALIASED:
        args = [args[0], args[0]]
    if op.torch_reflected is not None and form == "cn":
        return op.torch_reflected(torch, *args)
    return op.torch(torch, *args, *params)


def build_tensors(graph: Graph, device: str) -> list[Any]:
    """The graph as 0-d float64 tensors (leaves require grad; every node retains its grad)."""
    torch = load_torch()
    f64 = torch.float64
    tensors: list[Any] = []
    for node in graph.nodes:
        if node.op == "leaf":
            t = torch.tensor(node.value, dtype=f64, device=device, requires_grad=True)
        else:
            args = [torch.tensor(a.value, dtype=f64, device=device) if isinstance(a, Const) else tensors[a]
                    for a in node.args]
            t = apply_op(torch, node.op, args, node.params, _scalar_exponent(node), node.form)
            if t.requires_grad:
                t.retain_grad()
        tensors.append(t)
    return tensors


def run_graph(graph: Graph, device: str) -> TorchRun:
    """Build the whole graph as 0-d float64 tensors, backward from the root, read every node."""
    tensors = build_tensors(graph, device)
    values = [t.item() for t in tensors]
    try:
        tensors[-1].backward()
    except RuntimeError as exc:
        return TorchRun(values, None, str(exc).splitlines()[0])
    grads = [t.grad.item() if t.grad is not None else 0.0 for t in tensors]
    return TorchRun(values, grads)


class LocalCase(NamedTuple):
    """One op applied to given inputs (the engine's own values at a node)."""

    op: Op
    form: str
    inputs: tuple[float, ...]
    params: tuple[Any, ...]


def run_local(cases: Sequence[LocalCase], device: str) -> list[tuple[float, tuple[float, ...]]]:
    """Value and local derivatives (upstream gradient 1) of each case, batched: one torch call per
    (op, form, params) group. A constant operand gets no derivative (reported as nan)."""
    torch = load_torch()
    f64 = torch.float64
    results: list[tuple[float, tuple[float, ...]] | None] = [None] * len(cases)
    groups: dict[tuple[Any, ...], list[int]] = {}
    for i, (op, form, inputs, params) in enumerate(cases):
        # x ** c with a number c is torch's pow(Tensor, Scalar), which special-cases some c: one
        # group (and one torch call) per exponent, as a graph would call it.
        exponent = repr(inputs[1]) if op.scalar_form and form == "nc" else None
        groups.setdefault((op.name, form, params, exponent), []).append(i)
    for (name, form, params, exponent), idx in groups.items():
        op = OPS[name]
        cols = []
        for k, f in enumerate(form):
            col = torch.tensor([cases[i].inputs[k] for i in idx], dtype=f64, device=device,
                               requires_grad=(f in "n" + ALIASED))
            cols.append(col)
        out = apply_op(torch, name, cols, params, None if exponent is None else float(exponent), form)
        values = out.detach().cpu().tolist()
        grads: list[list[float]] = [[math.nan] * len(idx) for _ in cols]
        if op.differentiable:
            out.sum().backward()
            for k, col in enumerate(cols):
                if col.requires_grad:
                    grads[k] = col.grad.cpu().tolist()
        for i, value, *local in zip(idx, values, *grads):
            results[i] = (value, tuple(local))
    return results  # type: ignore[return-value]


def run_scalar(case: LocalCase, device: str, operator: bool = True) -> tuple[float, tuple[float, ...]]:
    """One case with 0-d tensors, the kernels a graph of scalars meets. torch's vectorised kernels
    sometimes differ from them at edges (maximum(-0.0, 0.0), remainder by a subnormal), so the
    harness asks this before it calls a batched disagreement a finding. ``operator=False``: the
    op's torch function even where torch's operator computes otherwise (``c / x``)."""
    torch = load_torch()
    f64 = torch.float64
    args = [torch.tensor(x, dtype=f64, device=device, requires_grad=(f in "n" + ALIASED))
            for x, f in zip(case.inputs, case.form)]
    exponent = case.inputs[1] if case.op.scalar_form and case.form == "nc" else None
    out = apply_op(torch, case.op.name, args, case.params, exponent, case.form if operator else "")
    grads = [math.nan] * len(args)
    if case.op.differentiable:
        out.backward()
        grads = [a.grad.item() if a.requires_grad else math.nan for a in args]
    return out.item(), tuple(grads)


def run_graphs(graphs: Sequence[Graph], device: str) -> list[TorchRun]:
    """Many graphs at once: nodes at the same depth with the same op become one vectorised torch
    call, and one backward of the sum of the roots gives every graph its gradients (the graphs
    share nothing). Graphs holding a non-differentiable op (whose backward raises) run alone.

    Vectorised kernels can differ from 0-d ones at edge inputs; the checker re-runs a graph with
    :func:`run_graph` before it reports any disagreement found against this batched reference."""
    torch = load_torch()
    results: list[TorchRun | None] = [None] * len(graphs)
    batch = list(range(len(graphs)))
    for gi, graph in enumerate(graphs):
        if len(graph.nodes) > 1000:  # a deep chain: one level per node, so no gain in batching
            results[gi] = run_graph(graph, device)
            batch.remove(gi)
    if not batch:
        return results  # type: ignore[return-value]
    base, nodes, origin, levels = _by_depth(graphs, batch)
    level_tensors, slot = _forward(torch, nodes, origin, levels, device)
    flat = torch.cat(level_tensors) if len(level_tensors) > 1 else level_tensors[0]
    total = flat.index_select(0, torch.tensor(
        [slot[base[gi] + len(graphs[gi].nodes) - 1] for gi in batch], device=device)).sum()
    if total.requires_grad:  # not when every root is a detached '//' (x // x alone)
        total.backward()
    order = torch.tensor(slot, device=device)
    values = flat.detach().index_select(0, order).cpu().tolist()
    grads = torch.cat([t.grad if t.grad is not None else torch.zeros_like(t) for t in level_tensors])
    grads = grads.index_select(0, order).cpu().tolist()
    # A graph holding '//' gets values only: torch's backward raises through it (a graph's every
    # node reaches the root), which the checker confirms with run_graph before any finding.
    raising = {gi for gi, graph in enumerate(graphs)
               if any(n.op != "leaf" and not OPS[n.op].differentiable for n in graph.nodes)}
    for gi in batch:
        first, n = base[gi], len(graphs[gi].nodes)
        vs, gs = values[first:first + n], grads[first:first + n]
        if gi in raising:
            results[gi] = TorchRun(vs, None, "derivative for floor_divide is not implemented", batched=True)
        else:
            results[gi] = TorchRun(vs, gs, batched=True)
    return results  # type: ignore[return-value]


def _by_depth(graphs: Sequence[Graph], batch: list[int]
              ) -> tuple[dict[int, int], list[Any], list[int], list[list[int]]]:
    """Every node of the batch numbered (graph gi's node i is ``base[gi] + i``), with its graph's
    base (``origin``), and the numbers at each depth (``levels``; the leaves at depth 0)."""
    base: dict[int, int] = {}
    nodes: list[Any] = []
    origin: list[int] = []  # global number -> its graph's base
    levels: list[list[int]] = [[]]
    for gi in batch:
        first = base[gi] = len(nodes)
        depth: list[int] = []
        for node in graphs[gi].nodes:
            d = 1 + max([depth[a] for a in node.args if type(a) is int]) if node.args else 0
            depth.append(d)
            while len(levels) <= d:
                levels.append([])
            levels[d].append(len(nodes))
            nodes.append(node)
            origin.append(first)
    return base, nodes, origin, levels


def _forward(torch: Any, nodes: list[Any], origin: list[int], levels: list[list[int]],
             device: str) -> tuple[list[Any], list[int]]:
    """One tensor per depth, the same op's nodes of a depth computed in one vectorised call; and
    each node's slot: its place in the concatenation of those tensors."""
    f64 = torch.float64
    slot = [0] * len(nodes)
    leaves = levels[0]
    leaf_tensor = torch.tensor([nodes[n].value for n in leaves], dtype=f64, device=device,
                               requires_grad=True)
    for k, n in enumerate(leaves):
        slot[n] = k
    level_tensors = [leaf_tensor]
    filled = len(leaves)
    for d in range(1, len(levels)):
        pool = torch.cat(level_tensors) if len(level_tensors) > 1 else level_tensors[0]
        groups: dict[tuple[Any, ...], list[int]] = {}
        for n in levels[d]:
            node = nodes[n]
            exponent = _scalar_exponent(node)
            key = None if exponent is None else repr(exponent)  # nan != nan: group by its text
            groups.setdefault((node.op, node.form, node.params, key), []).append(n)
        outs = []
        for (name, form, params, exponent), members in groups.items():
            cols = []
            for pos, f in enumerate(form):
                if f == "c":
                    cols.append(torch.tensor([nodes[n].args[pos].value for n in members],
                                             dtype=f64, device=device))
                else:
                    idx = [slot[origin[n] + nodes[n].args[pos]] for n in members]
                    cols.append(pool.index_select(0, torch.tensor(idx, device=device)))
            out = apply_op(torch, name, cols, params, None if exponent is None else float(exponent), form)
            if not OPS[name].differentiable:
                out = out.detach()
            outs.append(out)
            for n in members:
                slot[n] = filled
                filled += 1
        level = torch.cat(outs)
        if level.requires_grad:  # not when every node of the level is a detached '//'
            level.retain_grad()
        level_tensors.append(level)
    return level_tensors, slot


def _scalar_exponent(node: Any) -> float | None:
    """The constant exponent of ``x ** c`` (torch's pow(Tensor, Scalar)), else None."""
    return node.args[1].value if OPS[node.op].scalar_form and node.form == "nc" else None
