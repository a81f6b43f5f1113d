"""Random expression DAGs: shared subexpressions, constants on both sides, edge values.

One generator, two sources of randomness: a seeded ``random.Random`` for fast campaigns, and a
hypothesis ``draw`` for the pytest suite (which then shrinks failures). Node values are tracked in
float64 while generating, so that most ops get inputs in their well-conditioned domain while a
controlled share of edge values (0, -0.0, ±1, ±inf, nan, tiny, huge, kinks, out-of-domain) gets in.
"""

from __future__ import annotations

import math
import random
from typing import Any, Callable, Protocol, Sequence

from vetgrad.conformance.dags.graph import Const, Graph, Node
from vetgrad.conformance.judging.levels import ordinary_case
from vetgrad.engine.ops import ANY, OPS, Op, public_ops

INF, NAN = math.inf, math.nan
EDGE_VALUES: tuple[float, ...] = (0.0, -0.0, 1.0, -1.0, 2.0, -2.0, 0.5, INF, -INF, NAN, 1e-300,
                                  -1e-300, 5e-324, 1e300, -1e300, 1e-8, 1e8, 20.0, 710.0, -745.0)


class Source(Protocol):
    """Where random choices come from."""

    def integer(self, lo: int, hi: int) -> int: ...
    def uniform(self, lo: float, hi: float) -> float: ...
    def chance(self, p: float) -> bool: ...


class RandomSource:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self._random = rng.random  # (bound once: the generator draws ~130 numbers a graph)

    def integer(self, lo: int, hi: int) -> int:
        return lo + int(self._random() * (hi - lo + 1))  # randint's exactness is not needed

    def uniform(self, lo: float, hi: float) -> float:
        return lo + (hi - lo) * self._random()

    def chance(self, p: float) -> bool:
        return self._random() < p


class DrawSource:
    """Choices drawn from hypothesis, so that failures shrink (towards lower integers and
    simpler floats: fewer edge values, earlier parents, the first ops of the list)."""

    def __init__(self, draw: Callable[[Any], Any]) -> None:
        from hypothesis import strategies as st

        self.draw, self.st = draw, st

    def integer(self, lo: int, hi: int) -> int:
        return self.draw(self.st.integers(lo, hi))

    def uniform(self, lo: float, hi: float) -> float:
        return self.draw(self.st.floats(lo, hi, allow_nan=False, allow_infinity=False))

    def chance(self, p: float) -> bool:
        return self.draw(self.st.integers(0, 999)) >= 1000 * (1 - p) if p > 0 else False


_PUBLIC = {op.name: op for op in public_ops()}  # the table is fixed at import


def resolve_ops(names: Sequence[str] | None) -> list[Op]:
    """The public ops named (all of them for None); ValueError listing valid names otherwise."""
    valid = _PUBLIC
    if names is None:
        return list(valid.values())
    unknown = [n for n in names if n not in valid]
    if unknown:
        raise ValueError(f"unknown op(s) {', '.join(unknown)}; valid: {', '.join(valid)}")
    if not names:
        raise ValueError("no ops selected")
    return [valid[n] for n in names]


def _pick(source: Source, items: Sequence[Any]) -> Any:
    return items[source.integer(0, len(items) - 1)]


def _edge_value(source: Source, op: Op | None) -> float:
    pool = EDGE_VALUES + (op.special if op is not None else ())
    return _pick(source, pool)


def _ordinary_value(source: Source, op: Op | None, position: int) -> float:
    """A constant operand: a float in the op's domain, or often a small integer as users write
    them (``x * 2``, ``1 - x``, ``x ** 3``), given as an int or as an integer-valued float."""
    lo, hi = op.domain[min(position, len(op.domain) - 1)] if op is not None else ANY
    if op is not None and source.chance(INT_CONST_RATE):
        if op.scalar_form is not None and position == 1:
            lo, hi = INT_EXPONENTS  # x ** 3 .. x ** 10: integer powers take their own code paths
        first, last = math.ceil(lo), math.floor(hi)
        if first <= last:
            k = source.integer(first, last)
            return k if source.chance(0.5) else float(k)
    return source.uniform(lo, hi)


INT_CONST_RATE = 0.3
INT_EXPONENTS = (-3, 10)


def _bounds(op: Op, position: int) -> tuple[float, float]:
    """Where a parent's value suits the op's operand: its domain; a finite |x| <= 1e3 for ANY."""
    lo, hi = op.domain[min(position, len(op.domain) - 1)]
    return (-1e3, 1e3) if (lo, hi) == ANY else (lo, hi)


_BOUNDS = {op.name: (_bounds(op, 0), _bounds(op, 1)) for op in OPS.values()}


def _params(source: Source, op: Op) -> tuple[Any, ...]:
    return op.sample_params(source) if op.sample_params is not None else ()


def _forward(op: Op, inputs: Sequence[float], params: tuple[Any, ...]) -> float:
    return op.forward(*map(float, inputs), *params)  # (an int constant, as a user writes it)


def build_graph(
    source: Source,
    *,
    max_nodes: int = 30,
    ops: Sequence[str] | None = None,
    edge_rate: float = 0.08,
    const_rate: float = 0.25,
    seed: int | None = None,
    ordinary: bool = False,
) -> Graph:
    """A random DAG of at most ``max_nodes`` nodes whose last node sums every otherwise unused
    node, so that every node influences the root's gradient. ``ordinary``: a graph for the
    ``math`` level, every op on ordinary inputs with an ordinary result (conformance.judging.levels):
    no edge values, parents in the op's domain, and a node whose result is not ordinary is
    drawn again."""
    # (the steps below draw from ``source`` in a fixed order: a seed's graphs depend on it)
    if max_nodes < 2:
        raise ValueError(f"max_nodes must be at least 2, got {max_nodes}")
    for name, rate in (("edge_rate", edge_rate), ("const_rate", const_rate)):
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"{name} must be in [0, 1], got {rate}")
    chosen = resolve_ops(ops)
    if ordinary:
        edge_rate = 0.0
    chosen = _mostly_differentiable(source, chosen, ordinary)
    nodes, values = _leaves(source, max_nodes, edge_rate, ordinary)
    sinks = _add_op_nodes(source, nodes, values, chosen, max_nodes=max_nodes, edge_rate=edge_rate,
                          const_rate=const_rate, ordinary=ordinary)
    _sum_into_root(nodes, values, sinks)
    return Graph(tuple(nodes), seed)


def _mostly_differentiable(source: Source, chosen: list[Op], ordinary: bool) -> list[Op]:
    """Drop VJP-less ops (//) from most graphs: a graph with one has its gradients unchecked."""
    if len(chosen) > 1 and any(op.vjp is None for op in chosen) and (
            ordinary or source.chance(0.85)):
        return [op for op in chosen if op.vjp is not None]
    return chosen


def _leaves(source: Source, max_nodes: int, edge_rate: float,
            ordinary: bool) -> tuple[list[Node], list[float]]:
    """The first 1..6 leaves and values: mostly in (-3, 3), some of any magnitude or edge values."""
    integer, chance, uniform = source.integer, source.chance, source.uniform
    n_leaves = integer(1, max(1, min(6, max_nodes // 4)))
    nodes: list[Node] = []
    values: list[float] = []
    for _ in range(n_leaves):
        if chance(edge_rate):
            x = _edge_value(source, None)
        elif chance(0.15) and not ordinary:  # any magnitude, not only (-3, 3)
            x = (-1.0 if chance(0.5) else 1.0) * 10.0 ** uniform(-8.0, 8.0)
        else:
            x = uniform(*ANY)
        nodes.append(Node("leaf", value=x))
        values.append(x)
    return nodes, values


def _add_op_nodes(source: Source, nodes: list[Node], values: list[float], chosen: list[Op], *,
                  max_nodes: int, edge_rate: float, const_rate: float,
                  ordinary: bool) -> dict[int, None]:
    """Append op nodes until full or out of tries; return the unused ones, for the root to sum."""
    n_leaves = len(nodes)
    sinks: dict[int, None] = {}  # unused op nodes, in order: the root will sum them
    tries = 0
    while len(nodes) == n_leaves or len(nodes) + len(sinks) - 1 < max_nodes - 1:
        tries += 1
        if tries > 20 * max_nodes:
            break
        op = _pick(source, chosen)
        args = _operands(source, op, nodes, values, room=max_nodes - len(sinks),
                         edge_rate=edge_rate, const_rate=const_rate, ordinary=ordinary)
        params = _params(source, op)
        inputs = [a.value if isinstance(a, Const) else values[a] for a in args]
        out = _forward(op, inputs, params)
        node = Node(op.name, tuple(args), params)
        if ordinary and not ordinary_case(op.name, [float(x) for x in inputs], params, out,
                                          form=node.form):
            continue  # (a fresh leaf drawn for it stays: a leaf is ordinary)
        nodes.append(node)
        values.append(out)
        for a in args:
            if isinstance(a, int):
                sinks.pop(a, None)
        sinks[len(nodes) - 1] = None
    return sinks


def _operands(source: Source, op: Op, nodes: list[Node], values: list[float], *, room: int,
              edge_rate: float, const_rate: float, ordinary: bool) -> list[int | Const]:
    """A new op's operands: constants, ties, x op x, edge leaves or earlier nodes, to test each."""
    chance = source.chance
    args: list[int | Const] = []
    const_slot = -1
    if op.arity == 2 and chance(const_rate):
        # a method (x.maximum(2)) only takes its constant on the right
        const_slot = source.integer(0, 1) if op.dunder else 1
    for pos in range(op.arity):
        if pos == const_slot:
            c = _edge_value(source, op) if chance(edge_rate) else _ordinary_value(source, op, pos)
            args.append(Const(c))
        elif pos == 1 and isinstance(args[0], int) and chance(0.1):
            args.append(args[0])  # the same node twice: x * x, a + a
        elif len(nodes) + 2 <= room and chance(edge_rate):  # (room: max_nodes - sinks)
            # a fresh leaf at one of the op's edges or kinks
            x = _edge_value(source, op)
            nodes.append(Node("leaf", value=x))
            values.append(x)
            args.append(len(nodes) - 1)
        else:
            args.append(_parent(source, op, pos, nodes, values, edge_rate, ordinary))
    if const_slot >= 0 and chance(0.15) and isinstance(args[1 - const_slot], int):
        args[const_slot] = Const(values[args[1 - const_slot]])  # a tie: x - c, max(x, c), c == x
    return args


def _parent(source: Source, op: Op, pos: int, nodes: list[Node], values: list[float],
            edge_rate: float, ordinary: bool) -> int:
    """An earlier node for operand ``pos``, often recent (depth), preferably in the op's domain."""
    chance, integer = source.chance, source.integer
    lo_b, hi_b = _BOUNDS[op.name][pos]
    for _attempt in range(12 if ordinary else 4):  # prefer a parent whose value suits the op
        recent = chance(0.5)
        lo = max(0, len(nodes) - 4) if recent else 0
        i = integer(lo, len(nodes) - 1)
        if lo_b <= values[i] <= hi_b or chance(edge_rate):
            break
    if ordinary and not lo_b <= values[i] <= hi_b:
        lo_d, hi_d = op.domain[min(pos, len(op.domain) - 1)]
        nodes.append(Node("leaf", value=source.uniform(lo_d, hi_d)))  # a fresh leaf
        values.append(nodes[-1].value)  # type: ignore[arg-type]
        i = len(nodes) - 1
    return i


def _sum_into_root(nodes: list[Node], values: list[float], sinks: dict[int, None]) -> None:
    """Append the root: adds summing the unused op nodes, so every node reaches its gradient."""
    add = OPS["add"]
    if not sinks:  # (no op found ordinary inputs: rare) x + x
        nodes.append(Node("add", (0, 0)))
        values.append(add.forward(values[0], values[0]))
        sinks[len(nodes) - 1] = None
    ends = list(sinks)
    total = ends[0]
    for s in ends[1:]:
        nodes.append(Node("add", (total, s)))
        values.append(add.forward(values[total], values[s]))
        total = len(nodes) - 1


def random_graph(
    rng: random.Random | int,
    *,
    max_nodes: int = 30,
    ops: Sequence[str] | None = None,
    edge_rate: float = 0.08,
    const_rate: float = 0.25,
    ordinary: bool = False,
) -> Graph:
    """A seeded random graph: the same seed gives the same graph on every machine."""
    seed = rng if isinstance(rng, int) else None
    source = RandomSource(random.Random(rng) if isinstance(rng, int) else rng)
    return build_graph(source, max_nodes=max_nodes, ops=ops, edge_rate=edge_rate,
                       const_rate=const_rate, seed=seed, ordinary=ordinary)


def graphs(
    *,
    max_nodes: int = 12,
    ops: Sequence[str] | None = None,
    edge_rate: float = 0.15,
    const_rate: float = 0.25,
) -> Any:
    """Hypothesis strategy for graphs; shrinks towards fewer nodes, earlier parents, ordinary
    values and the first ops of ``ops``."""
    from hypothesis import strategies as st

    resolve_ops(ops)  # validate up front

    @st.composite
    def strategy(draw: Callable[[Any], Any]) -> Graph:
        size = draw(st.integers(2, max_nodes))
        return build_graph(DrawSource(draw), max_nodes=size, ops=ops, edge_rate=edge_rate,
                           const_rate=const_rate)

    return strategy()
