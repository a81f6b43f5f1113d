"""Shrink a failing graph to a minimal one and print it as a standalone reproducer script."""

from __future__ import annotations

from typing import Any

from conformance.graph import Const, Graph, Node, expression
from conformance.torch_ref import run_graph
from engine.ops import OPS

MAX_CHECKS = 150


def _still_fails(graph: Graph, checker: Any, kind: str, op: str) -> bool:
    from conformance.campaign import Report

    probe = Report("", 0, checker.strict, [checker.device], [])
    try:
        checker.check([graph], [0], probe)
    except Exception:
        return False
    return any(f.kind == kind and f.op == op for f in probe.findings)


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


def candidates(graph: Graph, values: list[float]) -> list[Graph]:
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


def shrink_finding(finding: Any, checker: Any) -> None:
    """Greedy shrinking: keep any smaller graph that still fails the same way."""
    graph, checks = finding.graph, 0
    improved = True
    while improved and checks < MAX_CHECKS:
        improved = False
        values = run_graph(graph, checker.device).values
        for smaller in sorted(candidates(graph, values), key=lambda g: len(g.nodes)):
            if len(smaller.nodes) >= len(graph.nodes):
                continue
            checks += 1
            if _still_fails(smaller, checker, finding.kind, finding.op):
                graph, improved = smaller, True
                break
            if checks >= MAX_CHECKS:
                break
    if graph is not finding.graph:
        from conformance.campaign import Report

        probe = Report("", 0, checker.strict, [checker.device], [])
        checker.check([graph], [0], probe)
        same = [f for f in probe.findings if f.kind == finding.kind and f.op == finding.op]
        if same:
            finding.message, finding.node = same[0].message, same[0].node
        finding.graph = Graph(graph.nodes, finding.graph.seed)


def _torch_expr(node: Node, names: dict[int, str]) -> str:
    op = OPS[node.op]
    args = []
    for a in node.args:
        args.append(f"torch.tensor({a.value!r}, dtype=torch.float64)" if isinstance(a, Const) else names[a])
    if node.op == "pow" and isinstance(node.args[1], Const):
        args[1] = repr(node.args[1].value)
    if node.op == "div" and isinstance(node.args[0], Const):  # torch's number / tensor
        return f"{node.args[0].value!r} / {args[1]}"
    return f"{op.torch_name}({', '.join(args + [repr(p) for p in node.params])})"


def reproducer(finding: Any, engine: str) -> str:
    """A standalone script: builds the graph in the engine and in torch, prints both (an engine
    that raises is shown raising, and torch still runs)."""
    graph = finding.graph
    passes = 2 if finding.kind == "repeat-backward" else 1
    module, _, attr = engine.partition(":")
    last = len(graph.nodes) - 1
    xs = ", ".join(f"x{i}" for i in range(len(graph.nodes)))
    ts = ", ".join(f"t{i}" for i in range(len(graph.nodes)))
    names = {i: f"x{i}" for i in range(len(graph.nodes))}
    tnames = {i: f"t{i}" for i in range(len(graph.nodes))}
    engine_lines, torch_lines = [], []
    for i, node in enumerate(graph.nodes):
        if node.op == "leaf":
            engine_lines.append(f"    x{i} = V({node.value!r})")
            torch_lines.append(f"    t{i} = T({node.value!r})")
        else:
            engine_lines.append(f"    x{i} = {expression(graph, i, names)}")
            torch_lines.append(f"    t{i} = {_torch_expr(node, tnames)}; t{i}.retain_grad()")
    lines = [
        f"# vetgrad conformance reproducer: {finding.kind} mismatch in {finding.op!r} at node {finding.node}",
        f"# {finding.message}",
        "import torch",
        f"from {module} import {attr.split('.')[0]} as V" if attr else "V = None  # the engine's Value class",
        "inf, nan = float('inf'), float('nan')",
        "T = lambda x: torch.tensor(x, dtype=torch.float64, requires_grad=True)",
        "",
        "",
        "def build_engine():",
        *engine_lines,
        f"    return [{xs}]",
        "",
        "",
        "def build_torch():",
        *torch_lines,
        f"    return [{ts}]",
        "",
        "",
        "ts = build_torch()",
        "print('values torch :', [t.item() for t in ts])",
        "try:",
        "    xs = build_engine()",
        "    print('values engine:', [x.data for x in xs])",
        "except Exception as exc:",
        "    xs = None",
        "    print('engine raised while building:', repr(exc))",
        f"for n in range({passes}):  # backward() calls (a second one must add the same again)",
        "    try:",
        f"        ts[{last}].backward(retain_graph=True)",
        "        print('grads  torch :', [None if t.grad is None else t.grad.item() for t in ts])",
        "    except RuntimeError as exc:",
        "        print('torch backward raised:', exc)",
        "    if xs is not None:",
        "        try:",
        f"            xs[{last}].backward()",
        "            print('grads  engine:', [x.grad for x in xs])",
        "        except Exception as exc:",
        "            print('engine backward raised:', repr(exc))",
    ]
    return "\n".join(lines) + "\n"
