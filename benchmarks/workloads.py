"""The graph workloads: random DAGs from the harness's own generator, and deep chains.

Each workload is a ``forward(leaf)`` function that builds the graph from plain numbers with the
contender's leaf constructor and Python operators, exactly as a user would write it: the DAG is
compiled once to straight-line code (``v7 = v3 * v5``), so no interpreter loop of ours is timed.
:func:`run` times forward, backward and freeing the graph (dropping the root) separately;
:func:`check` compares the root's value and d(root)/d(first leaf) with a float64 reference
computed once in plain Python floats ("first leaf": the first one the graph uses).
"""

from __future__ import annotations

import functools
import math
import random
import time
from dataclasses import dataclass
from typing import Any, Callable

from vetgrad.conformance.dags.generate import random_graph
from vetgrad.conformance.dags.graph import Const, Graph, expression

DAG_OPS: tuple[str, ...] = ("add", "mul", "tanh", "relu")
DAG_SIZES: tuple[int, ...] = (100, 1_000, 10_000, 100_000)
CHAIN_SIZES: tuple[int, ...] = (1_000, 10_000, 100_000, 1_000_000)
CHAIN_START = 0.5

Forward = Callable[[Callable[[float], Any]], tuple[Any, Any]]


@dataclass(frozen=True)
class Workload:
    """A graph to build: ``forward(leaf)`` returns (first leaf, root)."""

    kind: str  # "dag" or "chain"
    nodes: int  # every node, leaves included (constants are operands, not nodes)
    depth: int  # longest leaf-to-root path: how deep a recursive backward must go
    forward: Forward
    value: float  # the root's value, float64 reference
    grad: float  # d(root)/d(first leaf the graph uses), float64 reference
    reused: float = 0.0  # share of nodes that feed more than one node

    @property
    def title(self) -> str:
        return f"{self.kind} of {self.nodes:,} nodes"


@dataclass(frozen=True)
class Sample:
    """One timed run, in seconds, with what it computed."""

    forward: float
    backward: float
    free: float
    value: float
    grad: float

    @property
    def total(self) -> float:
        return self.forward + self.backward + self.free


def run(work: Workload, leaf: Callable[[float], Any], sync: Callable[[], None],
        number: Callable[[Any], float]) -> Sample:
    """Build ``work`` with ``leaf``, backpropagate from its root, drop the graph; time each."""
    start = time.perf_counter()
    first, root = work.forward(leaf)
    sync()
    built = time.perf_counter()
    root.backward()
    sync()
    done = time.perf_counter()
    value = number(root)  # untimed: reading one number
    dropped = time.perf_counter()
    del root  # the last reference to the graph: freeing it is part of the work
    freed = time.perf_counter()
    return Sample(built - start, done - built, freed - dropped, value, number(first.grad))


def check(sample: Sample, work: Workload, dtype: str = "float64") -> None:
    """Raise AssertionError unless ``sample`` computed the reference value and gradient."""
    rtol = 1e-6 if dtype == "float64" else 2e-2
    for what, got, want in (("root value", sample.value, work.value),
                            ("d(root)/d(first leaf)", sample.grad, work.grad)):
        if not _close(got, want, rtol):
            raise AssertionError(f"{work.title}: {what} is {got!r}, reference {want!r} "
                                 f"(rtol {rtol:g})")


def _close(got: float, want: float, rtol: float) -> bool:
    if math.isnan(want) or math.isinf(want):
        return repr(got) == repr(want)
    return abs(got - want) <= rtol * max(abs(want), 1e-12)


# -- random DAG -------------------------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def dag(nodes: int, seed: int = 0) -> Workload:
    """A random DAG from the harness's generator (ops add mul tanh relu, ordinary values only,
    shared subexpressions, constants on either side), compiled to straight-line code."""
    graph = random_graph(random.Random(seed), max_nodes=nodes, ops=DAG_OPS, edge_rate=0.0)
    names = {i: f"v{i}" for i in range(len(graph.nodes))}
    lines = []
    for i, node in enumerate(graph.nodes):
        if node.op == "leaf":
            lines.append(f"    v{i} = leaf({node.value!r})")
        else:
            lines.append(f"    v{i} = {expression(graph, i, names)}")
    first = _first_used_leaf(graph)
    lines.append(f"    return v{first}, v{graph.root}")
    forward = _compiled(f"<dag {nodes} seed {seed}>", lines)
    value, grad = _dag_reference(graph, first)
    return Workload("dag", len(graph.nodes), _depth(graph), forward, value, grad, _reused(graph))


def _compiled(name: str, body: list[str]) -> Forward:
    """``def forward(leaf):`` with ``body``, compiled without a closure (so that its code can be
    shipped to a worker process as marshal data)."""
    namespace: dict[str, Any] = {}
    exec(compile("\n".join(["def forward(leaf):", *body]), name, "exec"), namespace)
    return namespace["forward"]


def _first_used_leaf(graph: Graph) -> int:
    """The first leaf some node uses (an unused leaf has no gradient in torch: None)."""
    used = {a for node in graph.nodes for a in node.args if isinstance(a, int)}
    return next(i for i in graph.leaves if i in used)


def _depth(graph: Graph) -> int:
    depth = [0] * len(graph.nodes)
    for i, node in enumerate(graph.nodes):
        parents = [depth[a] + 1 for a in node.args if isinstance(a, int)]
        depth[i] = max(parents, default=0)
    return depth[-1]


def _reused(graph: Graph) -> float:
    uses = [0] * len(graph.nodes)
    for node in graph.nodes:
        for a in set(node.args):
            if isinstance(a, int):
                uses[a] += 1
    return sum(u > 1 for u in uses) / len(uses)


def _dag_reference(graph: Graph, first: int) -> tuple[float, float]:
    """Root value and d(root)/d(node ``first``) by a plain-float forward and reverse sweep."""
    vals: list[float] = []

    def val(a: int | Const) -> float:
        return a.value if isinstance(a, Const) else vals[a]

    for node in graph.nodes:
        if node.op == "leaf":
            vals.append(float(node.value))  # type: ignore[arg-type]
        elif node.op == "add":
            vals.append(val(node.args[0]) + val(node.args[1]))
        elif node.op == "mul":
            vals.append(val(node.args[0]) * val(node.args[1]))
        elif node.op == "tanh":
            vals.append(math.tanh(val(node.args[0])))
        elif node.op == "relu":
            x = val(node.args[0])
            vals.append(0.0 if x < 0.0 else x)
        else:
            raise ValueError(f"the DAG reference knows add mul tanh relu, not {node.op}")
    grads = [0.0] * len(vals)
    grads[-1] = 1.0
    for i in range(len(vals) - 1, -1, -1):
        node, g = graph.nodes[i], grads[i]
        if node.op == "leaf":
            continue
        args = node.args
        if node.op == "add":
            local = (1.0, 1.0)
        elif node.op == "mul":
            local = (val(args[1]), val(args[0]))
        elif node.op == "tanh":
            local = ((1.0 - vals[i]) * (1.0 + vals[i]),)
        else:
            local = (1.0 if vals[i] > 0.0 else 0.0,)
        for a, d in zip(args, local):
            if not isinstance(a, Const):
                grads[a] += g * d
    return vals[-1], grads[first]


# -- deep chain -------------------------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def chain(nodes: int) -> Workload:
    """A chain of ``nodes`` nodes: one leaf, then ``y = (y + y.tanh()).relu()`` repeated (three
    nodes a step, each ``y`` used twice, depth ``nodes - 1``). Values grow by about 1 a step and
    the gradient stays finite and non-zero at any length."""
    steps, rest = divmod(nodes - 1, 3)
    if steps < 1 or rest:
        raise ValueError(f"a chain has 1 + 3k nodes (k >= 1), got {nodes}")

    forward = _compiled(f"<chain {nodes}>", [
        f"    x = y = leaf({CHAIN_START!r})",
        f"    for _ in range({steps}):",
        "        y = (y + y.tanh()).relu()",
        "    return x, y"])
    y, g = CHAIN_START, 1.0
    for _ in range(steps):
        t = math.tanh(y)
        s = y + t
        g *= (1.0 + (1.0 - t) * (1.0 + t)) if s > 0.0 else 0.0
        y = s if s > 0.0 else 0.0
    return Workload("chain", nodes, nodes - 1, forward, y, g)


def workload(kind: str, nodes: int, seed: int = 0) -> Workload:
    """``dag(nodes, seed)`` or ``chain(nodes)``."""
    if kind == "dag":
        return dag(nodes, seed)
    if kind == "chain":
        return chain(nodes)
    raise ValueError(f"unknown workload {kind!r}; valid: dag, chain")
