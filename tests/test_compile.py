"""engine.compile: the API, its errors, the inlined templates against the op table, and the
compiled replay bit-identical to the eager engine on thousands of the harness's graphs."""

from __future__ import annotations

import math
import random
import struct
import traceback
from typing import Any, Sequence

import pytest
from vetgrad import engine
from vetgrad.conformance.dags.generate import EDGE_VALUES, random_graph
from vetgrad.conformance.dags.graph import Const, Graph
from vetgrad.engine import Compiled, Value, no_grad
from vetgrad.engine import templates as T  # noqa: N812 - short name for the template table
from vetgrad.engine.ops import FLOAT, OPS

INF, NAN = math.inf, math.nan


def bits(x: float) -> bytes:
    return struct.pack("<d", x)


def same(x: float, y: float) -> bool:
    """Bit for bit, the sign of zero included; any nan is any nan: the sign and payload of a nan
    from ``a * b`` with two nan operands depend on which of CPython's two float multiplications
    (the specialised instruction or ``float_mul``) ran it, so they differ even within the eager
    engine."""
    return bits(x) == bits(y) or (x != x and y != y)


# -- the API -----------------------------------------------------------------------------------


def test_decorator_value_grads_and_source() -> None:
    @engine.compile
    def f(x: Value, y: Value) -> Value:
        return (x * y + 1.0).tanh() - 2.0 / x

    value, grads = f(0.5, 2.0)
    x, y = Value(0.5), Value(2.0)
    out = (x * y + 1.0).tanh() - 2.0 / x
    out.backward()
    assert (value, grads) == (out.data, (x.grad, y.grad))
    assert "v2 = v0 * v1" in f.source and "tanh(" in f.source
    assert f.nodes == 7 and f.arity == 2 and "7 nodes" in repr(f)
    assert f(0.5, 2.0) == (value, grads)  # replayed, not traced again


def test_branches_of_ops_follow_each_call() -> None:
    g = engine.compile(lambda x, y: x.relu() * x.maximum(y) + abs(x).clamp(0.0, 1.0))
    for xs in [(1.5, 0.5), (-1.5, 0.5), (0.0, 0.0), (-0.0, 2.0), (2.0, 2.0), (NAN, 1.0)]:
        a, b = Value(xs[0]), Value(xs[1])
        out = a.relu() * a.maximum(b) + abs(a).clamp(0.0, 1.0)
        out.backward()
        value, grads = g(*xs)
        assert all(map(same, (value, *grads), (out.data, a.grad, b.grad))), xs


def test_a_branch_on_data_is_baked_into_the_trace() -> None:
    g = engine.compile(lambda x: x * 2.0 if x.data > 0 else -x)
    assert g(1.0) == (2.0, (2.0,))
    assert g(-1.0) == (-2.0, (2.0,))  # the path of the first call, as torch.jit.trace


def test_unused_argument_returned_argument_ints_and_no_grad() -> None:
    g = engine.compile(lambda x, y: x)
    assert g(3, 4) == (3.0, (1.0, 0.0))
    with no_grad():  # tracing records the graph even inside no_grad
        h = engine.compile(lambda x: x * x)
        assert h(3.0) == (9.0, (6.0,))


@pytest.mark.parametrize("args, message", [((1.0,), "compiled for 2 arguments, got 1"),
                                           ((1.0, 2.0, 3.0), "got 3"),
                                           ((1.0, "2"), "argument 1 must be a real number"),
                                           ((Value(1.0), 2.0), "pass .data")])
def test_wrong_arguments_are_type_errors(args: tuple[Any, ...], message: str) -> None:
    g = engine.compile(lambda x, y: x * y)
    g(1.0, 2.0)
    with pytest.raises(TypeError, match=message):
        g(*args)


def test_first_call_with_a_non_number_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="argument 0 must be a real number"):
        engine.compile(lambda x: x)(None)


def test_returning_a_non_value_or_a_constant_is_an_error() -> None:
    with pytest.raises(TypeError, match=r"must return one Value.*float"):
        engine.compile(lambda x: x.data * 2.0)(1.0)
    with pytest.raises(ValueError, match="does not depend on its arguments"):
        engine.compile(lambda x: Value(x.data) * 2.0)(1.0)
    with pytest.raises(TypeError, match="needs a function"):
        engine.compile(3)  # type: ignore[arg-type]


def test_hand_built_node_is_refused() -> None:
    with pytest.raises(TypeError, match="built by hand"):
        engine.compile(lambda x: Value(1.0, (x,), "mystery"))(1.0)


def test_floor_division_raises_at_replay_as_backward_does_and_shows_the_source() -> None:
    g = engine.compile(lambda x, y: (x // y) + x)
    x, y = Value(7.0), Value(2.0)
    with pytest.raises(RuntimeError) as eager:
        ((x // y) + x).backward()
    with pytest.raises(RuntimeError) as compiled:
        g(7.0, 2.0)
    assert str(compiled.value) == str(eager.value)
    shown = "".join(traceback.format_tb(compiled.value.__traceback__))
    assert "vetgrad.compile" in shown and "back_floordiv(None)" in shown


def test_replay_all_needs_the_kept_trace() -> None:
    g = engine.compile(lambda x: x * x)
    g(2.0)
    with pytest.raises(RuntimeError, match="from_graph"):
        g.replay_all(2.0)


# -- the templates against the rows ---------------------------------------------------------------

GRID = (0.0, -0.0, 1.0, -1.0, 0.5, -2.5, 3.0, 20.0, 710.0, -745.0, INF, -INF, NAN, 5e-324,
        -5e-324, 1e-310, 1e300, -1e300)
GRADS = (1.0, -0.0, 0.0, -3.5, INF, NAN, 1e-310)


def _template(source: str, names: str) -> Any:
    return eval(f"lambda {names}: {source}", dict(T.NAMESPACE))


def _cases(form: str) -> list[tuple[float, ...]]:
    return [(a, b) for a in GRID for b in GRID] if form != "n" else [(a,) for a in GRID]


@pytest.mark.parametrize("key", sorted(T.FORWARD), ids=lambda k: f"{k[0]}-{k[1]}")
def test_forward_template_is_the_row(key: tuple[str, str]) -> None:
    name, form = key
    op = OPS[name]
    for case in _cases(form):
        c = case[1] if form in ("nc", "cn") else None
        if c is not None and not T.usable(T.FORWARD, name, form, c):
            continue
        fn = _template(T.FORWARD[key].format(a="a", b="b", c=T.literal(c) if c is not None else ""),
                       "a, b=None")
        if form == "cn":
            want = (op.reflected_forward or op.forward)(c, case[0])
        else:
            want = op.forward(*case)
        got = fn(*case) if form == "nn" or form == "n" else fn(case[0])
        assert same(got, want), (key, case, got, want)


@pytest.mark.parametrize("key", sorted(T.BACKWARD), ids=lambda k: f"{k[0]}-{k[1]}")
def test_backward_template_is_the_row(key: tuple[str, str]) -> None:
    name, form = key
    op = OPS[name]
    for case in _cases(form):
        c = case[1] if form in ("nc", "cn") else None
        if c is not None and not T.usable(T.BACKWARD, name, form, c):
            continue
        a = case[0]
        operands = (c, a) if form == "cn" else case
        forward = (op.reflected_forward or op.forward) if form == "cn" else op.forward
        out = forward(*operands)
        lit = T.literal(c) if c is not None else ""
        fns = [_template(t.format(a="a", b="b", c=lit, g="g", out="out"), "g, a, b, out")
               for t in T.BACKWARD[key]]
        for g in GRADS:
            if form == "n":
                want: Sequence[float] = (op.vjp(FLOAT, g, a, out),)
            elif form == "nn":
                want = op.vjp(FLOAT, g, *case, out)
            elif form == "nc":
                want = (op.vjp(FLOAT, g, a, c, out)[0],)
            else:
                want = ((op.reflected_vjp or op.vjp)(FLOAT, g, c, a, out)[1],)
            got = [fn(g, a, case[1] if form == "nn" else None, out) for fn in fns]
            assert all(map(same, got, want)), (key, case, g, got, want)


def test_literals_round_trip() -> None:
    for x in (*GRID, 0.1, -1 / 3, 2.0**-1074):
        y = eval(T.literal(x), dict(T.NAMESPACE))
        assert same(y, x)


# -- bit-identical to the eager engine on the harness's graphs -----------------------------------


def build(graph: Graph, leaves: Sequence[Value]) -> list[Value]:
    """Every node of ``graph`` as a Value, its leaves taken from ``leaves`` in order."""
    it = iter(leaves)
    made: list[Value] = []
    for node in graph.nodes:
        if node.op == "leaf":
            made.append(next(it))
        else:
            args = [a.value if isinstance(a, Const) else made[a] for a in node.args]
            made.append(OPS[node.op].call(*args, *node.params))
    return made


def eager(graph: Graph, xs: Sequence[float]) -> tuple[list[Value], list[Value], str | None]:
    leaves = [Value(x) for x in xs]
    made = build(graph, leaves)
    try:
        made[-1].backward()
    except RuntimeError as exc:
        return leaves, made, str(exc)
    return leaves, made, None


GRAPHS = 3000


def _other_numbers(rng: random.Random, n: int) -> list[float]:
    return [rng.choice(EDGE_VALUES) if rng.random() < 0.3 else rng.uniform(-3.0, 3.0)
            for _ in range(n)]


@pytest.mark.slow
def test_compiled_is_bit_identical_to_eager_on_thousands_of_graphs() -> None:
    rng = random.Random(15)
    checked = 0
    for seed in range(GRAPHS):
        graph = random_graph(seed, max_nodes=rng.choice((4, 12, 30)), edge_rate=0.15)
        own = [n.value for n in graph.nodes if n.op == "leaf"]
        g = engine.compile(lambda *xs, graph=graph: build(graph, xs)[-1])
        for xs in (own, _other_numbers(rng, len(own))):  # traced at the first, replayed at both
            leaves, made, error = eager(graph, xs)
            if error is not None:
                with pytest.raises(RuntimeError, match="not implemented"):
                    g(*xs)
                continue
            value, grads = g(*xs)
            want = (made[-1].data, *(x.grad for x in leaves))
            assert all(map(same, (value, *grads), want)), (seed, xs, (value, *grads), want)
            checked += 1
    assert checked > GRAPHS  # both calls of most graphs


def test_every_node_of_the_trace_is_bit_identical_to_eager() -> None:
    rng = random.Random(16)
    for seed in range(GRAPHS, GRAPHS + 500):
        graph = random_graph(seed, max_nodes=30, edge_rate=0.15)
        n_leaves = len(graph.leaves)
        trace_leaves = [Value(x) for x in _other_numbers(rng, n_leaves)]
        made = build(graph, trace_leaves)
        c = Compiled.from_graph(trace_leaves, made[-1], keep=True)
        assert c.order is not None
        where = {id(v): k for k, v in enumerate(c.order)}
        xs = _other_numbers(rng, n_leaves)
        _, nodes, error = eager(graph, xs)
        values = c.replay_values(*xs)
        if error is None:
            all_values, grads = c.replay_all(*xs)
            assert all(map(same, all_values, values))
        for v, mine in zip(nodes, made):
            k = where.get(id(mine))
            if k is None:
                continue  # not reachable from the root
            assert same(values[k], v.data), (seed, k)
            if error is None:
                assert same(grads[k], v.grad), (seed, k, grads[k], v.grad)
