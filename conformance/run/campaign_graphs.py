"""The graphs a campaign checks: graph ``index`` of a seed (generated, then restricted to the
operand forms the engine has), and the edge sweep that comes first (every op on its kink and edge
values, and a chain deeper than Python's recursion limit)."""

from __future__ import annotations

import math
import random
from typing import Sequence

from vetgrad.conformance.dags.generate import random_graph
from vetgrad.conformance.dags.graph import Const, Graph, Node
from vetgrad.conformance.subject.adapters import operand_forms
from vetgrad.engine.ops import OPS, public_ops


def all_ops() -> list[str]:
    return [op.name for op in public_ops()]


def graph_seed(seed: int, index: int) -> int:
    """The seed of graph ``index`` of a campaign: independent of workers and shards."""
    return (seed * 1_000_003 + index) & 0xFFFFFFFFFFFF


def campaign_graph(seed: int, index: int, max_nodes: int, ops: list[str],
                   forms: dict[str, tuple[str, ...]]) -> Graph:
    """Graph ``index`` of the campaign of ``seed``, in the operand forms the engine has. Every
    other graph is an ordinary one (the ``math`` level's own: see conformance.judging.levels)."""
    rng = random.Random(graph_seed(seed, index))
    graph = random_graph(rng, max_nodes=max_nodes, ops=ops, ordinary=index % 2 == 1)
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


SWEEP_CORE = (0.0, -0.0, 1.0, -1.0, 2.0, -2.5, math.inf, -math.inf, math.nan, 1e-300, 1e300)


def edge_graphs(ops: Sequence[str], forms: dict[str, tuple[str, ...]]) -> list[Graph]:
    """One graph per op and operand form: the op on every combination of its special points
    (``Op.special``: kinks, ties, domain edges) and the core edge values, summed into the root."""
    graphs = []
    for name in ops:
        op = OPS[name]
        values = list(dict.fromkeys((*SWEEP_CORE, *op.special)))
        params_list = op.sweep_params
        for form in forms.get(name, ()):
            nodes: list[Node] = []
            outs: list[int] = []
            combos: list[tuple[float, ...]] = (
                [(x,) for x in values] if op.arity == 1 else [(x, y) for x in values for y in values])
            if form == "nn":  # x op x: one node as both operands
                combos += [(x,) for x in values]
            for combo in combos:
                for params in params_list:
                    args: list[int | Const] = []
                    for f, x in zip(form, combo * 2 if len(combo) < len(form) else combo):
                        if f == "c":
                            args.append(Const(x))
                        elif len(combo) < len(form) and args:
                            args.append(args[0])
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
