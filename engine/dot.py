"""Graph pictures: ``to_dot`` writes Graphviz DOT text with no dependency; ``draw_dot`` renders it
with the optional ``graphviz`` package (as in the micrograd lecture) when it and ``dot`` exist."""

from __future__ import annotations

from typing import Any

from vetgrad.engine.autograd import topological_order
from vetgrad.engine.value import Value


def _quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("{", "\\{").replace("}", "\\}") \
        .replace("|", "\\|").replace("<", "\\<").replace(">", "\\>")


def to_dot(root: Value, rankdir: str = "LR") -> str:
    """DOT text of the graph that computed ``root``: a record per node (label | data | grad) and an
    op node between each result and its parents. Node names are stable for a given graph."""
    if not isinstance(root, Value):
        raise TypeError(f"to_dot() needs a Value, got {type(root).__name__}")
    if rankdir not in ("LR", "TB", "RL", "BT"):
        raise ValueError(f"rankdir must be one of LR, TB, RL, BT, got {rankdir!r}")
    order = topological_order((root,))
    name = {v: f"n{i}" for i, v in enumerate(order)}
    lines = ["digraph vetgrad {", f"  rankdir={rankdir};"]
    for v in order:
        n = name[v]
        text = f"{_quote(v.label)} | data {v.data:.4f} | grad {v.grad:.4f}"
        lines.append(f'  {n} [shape=record, label="{{ {text} }}"];')
        parents = v._prev
        if parents:
            lines.append(f'  {n}_op [label="{_quote(v._op)}"];')
            lines.append(f"  {n}_op -> {n};")
            for k, parent in enumerate(parents):
                if parent not in name:  # a constant operand, shown as its own leaf
                    name[parent] = f"{n}_c{k}"
                    lines.append(f'  {n}_c{k} [shape=record, label="{{ const | data '
                                 f'{parent.data:.4f} }}"];')
                lines.append(f"  {name[parent]} -> {n}_op;")
    lines.append("}")
    return "\n".join(lines) + "\n"


def draw_dot(root: Value, format: str = "svg", rankdir: str = "LR") -> Any:
    """A ``graphviz.Source`` of the graph (displays inline in Jupyter; ``.render()`` writes a file).

    Needs the optional ``graphviz`` package (``pip install vetgrad[graph]``) and Graphviz's ``dot``
    binary to render; ``to_dot`` needs neither."""
    try:
        import graphviz
    except ImportError as exc:
        from vetgrad._extras import install_hint

        raise ImportError(
            f"draw_dot needs the graphviz package, which is not installed: {install_hint('graph')} "
            "(or use vetgrad.engine.to_dot(root) for the DOT text alone)"
        ) from exc
    return graphviz.Source(to_dot(root, rankdir=rankdir), format=format)
