"""The reference side: PyTorch float64 on a device, end to end per graph and op by op in batches."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

from conformance.graph import Const, Graph
from engine.ops import OPS, Op


def load_torch() -> Any:
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - the conformance extra installs it
        raise SystemExit("the conformance harness needs PyTorch: pip install 'vetgrad[conformance]'") from exc
    return torch


def available_devices() -> list[str]:
    torch = load_torch()
    return ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@dataclass
class TorchRun:
    values: list[float]
    grads: list[float] | None  # None: backward raised (as it must through '//')
    error: str | None = None


def run_graph(graph: Graph, device: str) -> TorchRun:
    """Build the whole graph as 0-d float64 tensors, backward from the root, read every node."""
    torch = load_torch()
    f64 = torch.float64
    tensors: list[Any] = []
    for node in graph.nodes:
        if node.op == "leaf":
            t = torch.tensor(node.value, dtype=f64, device=device, requires_grad=True)
        else:
            op = OPS[node.op]
            args = [torch.tensor(a.value, dtype=f64, device=device) if isinstance(a, Const) else tensors[a]
                    for a in node.args]
            if node.op == "pow" and isinstance(node.args[1], Const):
                t = torch.pow(args[0], node.args[1].value)  # pow(Tensor, Scalar), as x ** 2.0
            else:
                t = op.torch(torch, *args, *node.params)
            if t.requires_grad:
                t.retain_grad()
        tensors.append(t)
    values = [t.item() for t in tensors]
    try:
        tensors[-1].backward()
    except RuntimeError as exc:
        return TorchRun(values, None, str(exc).splitlines()[0])
    grads = [t.grad.item() if t.grad is not None else 0.0 for t in tensors]
    return TorchRun(values, grads)


@dataclass
class LocalCase:
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
    for i, case in enumerate(cases):
        # x ** c with a number c is torch's pow(Tensor, Scalar), which special-cases some c: one
        # group (and one torch call) per exponent, as a graph would call it.
        exponent = repr(case.inputs[1]) if case.op.name == "pow" and case.form == "nc" else None
        groups.setdefault((case.op.name, case.form, case.params, exponent), []).append(i)
    for (name, form, params, exponent), idx in groups.items():
        op = OPS[name]
        cols = []
        for k, f in enumerate(form):
            col = torch.tensor([cases[i].inputs[k] for i in idx], dtype=f64, device=device,
                               requires_grad=(f == "n"))
            cols.append(col)
        if exponent is not None:
            out = torch.pow(cols[0], float(exponent))
        else:
            out = op.torch(torch, *cols, *params)
        values = out.detach().cpu().tolist()
        grads: list[list[float]] = [[math.nan] * len(idx) for _ in cols]
        if op.differentiable:
            out.sum().backward()
            for k, col in enumerate(cols):
                if col.requires_grad:
                    grads[k] = col.grad.cpu().tolist()
        for j, i in enumerate(idx):
            results[i] = (values[j], tuple(g[j] for g in grads))
    return results  # type: ignore[return-value]


def run_scalar(case: LocalCase, device: str) -> tuple[float, tuple[float, ...]]:
    """One case with 0-d tensors, the kernels a graph of scalars meets. torch's vectorised kernels
    sometimes differ from them at edges (maximum(-0.0, 0.0), remainder by a subnormal), so the
    harness asks this before it calls a batched disagreement a finding."""
    torch = load_torch()
    f64 = torch.float64
    args = [torch.tensor(x, dtype=f64, device=device, requires_grad=(f == "n"))
            for x, f in zip(case.inputs, case.form)]
    if case.op.name == "pow" and case.form == "nc":
        out = torch.pow(args[0], case.inputs[1])
    else:
        out = case.op.torch(torch, *args, *case.params)
    grads = [math.nan] * len(args)
    if case.op.differentiable:
        out.backward()
        grads = [a.grad.item() if a.requires_grad else math.nan for a in args]
    return out.item(), tuple(grads)
