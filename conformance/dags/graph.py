"""A random graph as a plain value: nodes, ops, parent indices, constants and leaf values.

The same description is built in every engine, printed as a runnable reproducer, saved as JSON and
shrunk by hypothesis. Node ``i`` may only use nodes ``< i``; the last node is the root.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Sequence, Union

ALIASED = "s"  # the form of an ``x op x`` case run alone: one input, used as both operands


@dataclass(frozen=True)
class Const:
    """A plain-number operand: ``x + 2.0`` or ``2.0 ** x``."""

    value: float


Arg = Union[int, Const]  # noqa: UP007 - a runtime alias; `|` on a class needs 3.10 at runtime


@dataclass(frozen=True, init=False)
class Node:
    """``op`` applied to ``args`` (earlier node indices or constants) with constant ``params``; a
    leaf has ``op == "leaf"`` and a ``value``."""

    op: str
    args: tuple[Arg, ...] = ()
    params: tuple[Any, ...] = ()
    value: float | None = None
    # The operand form: 'n' per node argument, 'c' per constant ('nc' is ``x + 2.0``); derived
    # once, as every stage of a check reads it (and pickled with the node, not derived again).
    form: str = field(default="", init=False, repr=False, compare=False)

    def __init__(self, op: str, args: tuple[Arg, ...] = (), params: tuple[Any, ...] = (),
                  value: float | None = None) -> None:
        # (written into __dict__: a frozen dataclass's own __init__ costs a call per field, and
        # the generator makes ~30 nodes a graph)
        if len(args) == 2:
            form = BINARY_FORMS[isinstance(args[0], Const)][isinstance(args[1], Const)]
        else:
            form = "".join(["c" if isinstance(a, Const) else "n" for a in args])
        self.__dict__.update(op=op, args=args, params=params, value=value, form=form)

    def __reduce__(self) -> tuple[Any, ...]:  # half the bytes and time of pickling the __dict__
        return Node, (self.op, self.args, self.params, self.value)


# A binary op's operand form, by which operands are constants: BINARY_FORMS[first][second].
BINARY_FORMS = (("nn", "nc"), ("cn", "cc"))


@dataclass(frozen=True)
class Graph:
    nodes: tuple[Node, ...]
    seed: int | None = field(default=None, compare=False)

    @property
    def root(self) -> int:
        return len(self.nodes) - 1

    @property
    def leaves(self) -> list[int]:
        return [i for i, n in enumerate(self.nodes) if n.op == "leaf"]

    def ops(self) -> set[str]:
        return {n.op for n in self.nodes if n.op != "leaf"}

    def to_json(self) -> dict[str, Any]:
        def enc(x: Any) -> Any:
            if isinstance(x, Const):
                return {"const": _enc_float(x.value)}
            return _enc_float(x) if isinstance(x, float) else x

        return {"seed": self.seed, "nodes": [
            {"op": n.op, "args": [enc(a) for a in n.args], "params": [enc(p) for p in n.params],
             **({"value": _enc_float(n.value)} if n.value is not None else {})}
            for n in self.nodes]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Graph:
        def dec(x: Any) -> Any:
            if isinstance(x, dict):
                return Const(_dec_float(x["const"]))
            return _dec_float(x) if isinstance(x, (str, float)) else x

        nodes = tuple(Node(d["op"], tuple(dec(a) for a in d["args"]), tuple(dec(p) for p in d["params"]),
                           _dec_float(d["value"]) if "value" in d else None) for d in data["nodes"])
        graph = cls(nodes, data.get("seed"))
        graph.validate()
        return graph

    def dumps(self) -> str:
        return json.dumps(self.to_json())

    def validate(self) -> None:
        """Raise ValueError if a node uses a later node or a leaf lacks a value."""
        for i, n in enumerate(self.nodes):
            if n.op == "leaf" and n.value is None:
                raise ValueError(f"leaf {i} has no value")
            for a in n.args:
                if isinstance(a, int) and not 0 <= a < i:
                    raise ValueError(f"node {i} uses node {a}, which is not earlier")
        if not self.nodes:
            raise ValueError("empty graph")


def operands(node: Node, values: Sequence[float]) -> list[float]:
    """The numbers ``node``'s op is applied to: constants as they are, nodes by their ``values``."""
    return [a.value if isinstance(a, Const) else values[a] for a in node.args]


def _enc_float(x: float) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return repr(x)  # 'inf', '-inf', 'nan': JSON has no literal for them
    return x


def _dec_float(x: Any) -> Any:
    return float(x) if isinstance(x, str) else x


def expression(graph: Graph, i: int, names: dict[int, str], method: bool = False) -> str:
    """Python source for node ``i`` over named earlier nodes (for reproducers), as the op's row
    spells it, or with ``method`` as its method (``x.abs()`` for an engine without ``abs(x)``);
    a method with a constant receiver (``c.maximum(x)``) gets ``V(c)``."""
    from vetgrad.engine.ops import OPS

    n = graph.nodes[i]
    op = OPS[n.op]
    args = [f"{a.value!r}" if isinstance(a, Const) else names[a] for a in n.args]
    method = method and op.method is not None
    if (op.dunder is None or method) and isinstance(n.args[0], Const):
        args[0] = f"V({args[0]})"
    params = [repr(p) for p in n.params]
    if method:
        return f"{args[0]}.{op.method}({', '.join([*args[1:], *params])})"
    return op.spell(args, params)
