"""A finding as a standalone script: it builds the graph in the engine and in torch and prints
both (an engine that raises is shown raising, and torch still runs)."""

from __future__ import annotations

from conformance.graph import Const, Node, expression
from conformance.report import Finding
from engine.ops import INFIX, OPS


def _torch_expr(node: Node, names: dict[int, str]) -> str:
    """The torch expression a user would write for ``node``, as its row says torch computes it."""
    op = OPS[node.op]
    args = []
    for a in node.args:
        args.append(f"torch.tensor({a.value!r}, dtype=torch.float64)" if isinstance(a, Const) else names[a])
    if op.scalar_form is not None and isinstance(node.args[1], Const):  # x ** 2.0: pow(Tensor, Scalar)
        args[1] = repr(node.args[1].value)
        op = OPS[op.scalar_form]
    if op.torch_reflected is not None and isinstance(node.args[0], Const):  # torch's 2.0 / tensor
        return f"{node.args[0].value!r} {INFIX[op.dunder]} {args[1]}"  # type: ignore[index]
    return f"{op.torch_name}({', '.join(args + [repr(p) for p in node.params])})"


def reproducer(finding: Finding, engine: str) -> str:
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
