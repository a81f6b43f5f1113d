"""Compiled.batch: the API and its errors, every op of the table against its row on an edge grid,
and the batched replay bit-identical to the eager engine, per row and per node, on thousands of
the harness's graphs (the edge sweep's included); the generated code's linecache entries."""

from __future__ import annotations

import gc
import linecache
import math
import random
import sys
import traceback
from typing import Any, Sequence

import pytest

np = pytest.importorskip("numpy")

from vetgrad import engine  # noqa: E402
from vetgrad.conformance.dags.generate import EDGE_VALUES, random_graph  # noqa: E402
from vetgrad.conformance.dags.graph import Graph  # noqa: E402
from vetgrad.conformance.run.campaign_graphs import all_ops, edge_graphs  # noqa: E402
from vetgrad.conformance.subject.probe import operand_forms  # noqa: E402
from vetgrad.engine import Compiled, Value  # noqa: E402
from vetgrad.engine.autograd import VALUE  # noqa: E402
from vetgrad.engine.ops import FLOAT, OPS  # noqa: E402

from tests.test_compile import GRID, build, eager, same  # noqa: E402

INF, NAN = math.inf, math.nan


# -- the API -----------------------------------------------------------------------------------


def test_batch_rows_are_the_scalar_replay_and_a_number_is_every_row() -> None:
    g = engine.compile(lambda x, y: (x * y).relu() + y / x)
    xs = [1.5, -1.0, 0.0, -0.0, INF, NAN]
    values, grads = g.batch(xs, 2.0)
    assert values.dtype == np.float64 and values.shape == (6,) and len(grads) == 2
    for i, x in enumerate(xs):
        value, (dx, dy) = g(x, 2.0)
        assert same(values[i], value) and same(grads[0][i], dx) and same(grads[1][i], dy), x
    assert "where(" in g.batch_source and "def batch_" in g.batch_source


def test_batch_traces_at_the_first_row_and_results_are_fresh_arrays() -> None:
    g = engine.compile(lambda x: x * 1.0)
    x = np.array([3.0, 4.0])
    values, (dx,) = g.batch(x)
    assert g.nodes == 2 and values.tolist() == [3.0, 4.0] and dx.tolist() == [1.0, 1.0]
    values[0] = 7.0
    assert x[0] == 3.0  # not a view of the input
    assert g.batch(5)[0].tolist() == [5.0]  # numbers only: one row
    assert g.batch(np.array([], dtype=np.float32))[0].shape == (0,)


def test_unused_argument_gets_zero_gradients_in_every_row() -> None:
    g = engine.compile(lambda x, y: x.tanh())
    _, (dx, dy) = g.batch([0.0, 1.0], [5.0, 6.0])
    assert dy.tolist() == [0.0, 0.0] and dx[0] == 1.0


@pytest.mark.parametrize("args, error, message", [
    (([1.0, 2.0],), TypeError, "compiled for 2 arguments, got 1"),
    (([1.0, 2.0], [1.0, 2.0, 3.0]), ValueError, "ragged columns.*argument 0 has 2, argument 1 has 3"),
    (([[1.0], [2.0]], [1.0, 2.0]), ValueError, r"argument 0 must be 1-d.*shape \(2, 1\)"),
    ((["a", "b"], 1.0), TypeError, "argument 0 must hold real numbers.*dtype <U1"),
    (([1.0, 2.0], [Value(1.0), Value(2.0)]), TypeError, "pass .data"),
    (([1.0, 2.0], None), TypeError, "argument 1 must hold real numbers.*object"),
    (([1 + 2j], 1.0), TypeError, "complex"),
])
def test_bad_columns_are_clear_errors(args: tuple[Any, ...], error: type, message: str) -> None:
    g = engine.compile(lambda x, y: x * y)
    g(1.0, 2.0)
    with pytest.raises(error, match=message):
        g.batch(*args)


def test_empty_batch_cannot_trace() -> None:
    with pytest.raises(ValueError, match="needs a row to trace at"):
        engine.compile(lambda x: x * 2.0).batch([])


def test_without_numpy_batch_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    g = engine.compile(lambda x: x * 2.0)
    assert g(1.0) == (2.0, (2.0,))
    monkeypatch.setitem(sys.modules, "numpy", None)  # import numpy raises ImportError
    with pytest.raises(ImportError, match="pip install numpy"):
        g.batch([1.0, 2.0])
    assert g(3.0) == (6.0, (2.0,))  # the scalar replay needs no numpy


def test_floor_division_raises_in_a_batch_and_shows_the_batch_source() -> None:
    g = engine.compile(lambda x, y: (x // y) + x)
    with pytest.raises(RuntimeError, match="not implemented") as info:
        g.batch([7.0, 1.0], 2.0)
    shown = "".join(traceback.format_tb(info.value.__traceback__))
    assert "batch" in shown and "back_floordiv(None)" in shown


def test_batch_all_needs_the_kept_trace() -> None:
    g = engine.compile(lambda x: x * x)
    with pytest.raises(RuntimeError, match="from_graph"):
        g.batch_all([1.0])


# -- linecache: the generated code's lines live as long as their Compiled -------------------------


def _entries() -> set[str]:
    return {k for k in linecache.cache if k.startswith("<vetgrad.compile")}


def test_linecache_entries_are_freed_with_the_compiled_function() -> None:
    before = _entries()
    g = engine.compile(lambda x: (x * 3.0).relu())
    g(1.0)
    g.batch([1.0, 2.0])
    mine = _entries() - before
    assert len(mine) == 2  # the scalar replay's and the batch's
    assert all(linecache.getline(name, 2) for name in mine)  # tracebacks can show them
    del g
    gc.collect()
    assert not (_entries() & mine)
    for _ in range(50):
        engine.compile(lambda x: x + 1.0)(2.0)
    gc.collect()
    assert len(_entries() - before) == 0  # a long harness run does not grow the cache


# -- every op against its row on the edge grid ----------------------------------------------------


def _forms(name: str) -> tuple[str, ...]:
    op = OPS[name]
    return operand_forms(op) if op.public else (("n",) if op.arity == 1 else ("nn",))


def _apply(name: str, form: str, xs: Sequence[Value], c: float | None, params: tuple[Any, ...]) -> Value:
    op = OPS[name]
    if not op.public:
        return VALUE.call(op, *xs, *params)  # torch's backward ops: nodes of create_graph
    operands = {"n": lambda: (xs[0],), "nn": lambda: (xs[0], xs[1]),
                "nc": lambda: (xs[0], c), "cn": lambda: (c, xs[0])}[form]()
    return op.call(*operands, *params)  # type: ignore[misc]


def _check_rows(c: Compiled, columns: list[list[float]], f: Any, label: Any) -> int:
    """Every row of ``c.batch`` against ``f`` on Values and backward(), bit for bit."""
    try:
        values, grads = c.batch(*columns)
        raised = None
    except RuntimeError as exc:
        values, raised = c.batch_values(*columns)[-1], exc
    for i in range(len(columns[0])):
        leaves = [Value(col[i]) for col in columns]
        out = f(*leaves)
        if raised is not None:
            with pytest.raises(RuntimeError):
                out.backward()
            assert same(values[i], out.data), (label, i)
            continue
        out.backward()
        want = (out.data, *(x.grad for x in leaves))
        got = (values[i], *(g[i] for g in grads))
        assert all(map(same, got, want)), (label, [col[i] for col in columns], got, want)
    return len(columns[0])


@pytest.mark.parametrize("name", sorted(OPS))
def test_every_op_is_its_row_on_the_edge_grid(name: str) -> None:
    op = OPS[name]
    checked = 0
    for params in op.sweep_params or ((),):
        for form in _forms(name):
            nodes = 1 if form in ("n", "nc", "cn") else 2
            pairs = [(a, b) for a in GRID for b in GRID]
            for c in (GRID if form in ("nc", "cn") else (None,)):
                def f(*xs: Value, form: str = form, c: float | None = c,
                      params: tuple[Any, ...] = params) -> Value:
                    return _apply(name, form, xs, c, params)

                rows = [(a,) for a in GRID] if nodes == 1 else pairs
                columns = [list(col) for col in zip(*rows)]
                leaves = [Value(x) for x in (0.37, -1.9)[:nodes]]  # traced at other numbers
                g = Compiled.from_graph(leaves, f(*leaves), keep=True, name=name)
                checked += _check_rows(g, columns, f, (name, form, c, params))
    assert checked >= len(GRID)


# -- bit-identical to eager on the harness's graphs, per row and per node -------------------------

GRAPHS = 2000
ROWS = 6


def _other_rows(rng: random.Random, own: list[float]) -> list[list[float]]:
    """The graph's own numbers, then rows at other numbers: edge values and uniform draws, the
    own numbers shuffled among the leaves, and negated."""
    n = len(own)
    out = [own]
    for _ in range(ROWS - 3):
        out.append([rng.choice(EDGE_VALUES) if rng.random() < 0.3 else rng.uniform(-3.0, 3.0)
                    for _ in range(n)])
    out.append(rng.sample(own, n))
    out.append([-x for x in own])
    return out


def _check_graph(graph: Graph, rows: list[list[float]], trace_at: list[float]) -> int:
    trace_leaves = [Value(x) for x in trace_at]
    made = build(graph, trace_leaves)
    c = Compiled.from_graph(trace_leaves, made[-1], keep=True)
    assert c.order is not None
    where = {id(v): k for k, v in enumerate(c.order)}
    columns = [list(col) for col in zip(*rows)]
    values = c.batch_values(*columns)
    try:
        all_values, grads = c.batch_all(*columns)
        raised = False
    except RuntimeError:
        raised = True
    for i, xs in enumerate(rows):
        _, nodes, error = eager(graph, xs)
        assert (error is not None) == raised, (graph.seed, i, error)
        for v, mine in zip(nodes, made):
            k = where.get(id(mine))
            if k is None:
                continue  # not reachable from the root
            assert same(values[k][i], v.data), (graph.seed, xs, k, values[k][i], v.data)
            if not raised:
                assert same(all_values[k][i], values[k][i])
                assert same(grads[k][i], v.grad), (graph.seed, xs, k, grads[k][i], v.grad)
    return len(rows)


@pytest.mark.slow
def test_batched_is_bit_identical_to_eager_on_thousands_of_graphs() -> None:
    rng = random.Random(15)
    checked = 0
    for seed in range(GRAPHS):
        graph = random_graph(seed, max_nodes=rng.choice((4, 12, 30)), edge_rate=0.15)
        own = [n.value for n in graph.nodes if n.op == "leaf"]
        rows = _other_rows(rng, own)
        checked += _check_graph(graph, rows, trace_at=rows[1])  # traced at other numbers
    assert checked == GRAPHS * ROWS


@pytest.mark.slow
def test_batched_is_bit_identical_to_eager_on_the_edge_sweep() -> None:
    names = all_ops()
    sweep = edge_graphs(names, {name: operand_forms(OPS[name]) for name in names})
    rng = random.Random(16)
    for graph in sweep:
        own = [n.value for n in graph.nodes if n.op == "leaf"]
        rows = [own, rng.sample(own, len(own)), rng.sample(own, len(own)), [-x for x in own]]
        _check_graph(graph, rows, trace_at=rows[1])
    assert len(sweep) > len(names)


# -- exact=False: numpy's kernels for the transcendental forwards, within a bound ---------------


def _ulps(a: Any, b: Any) -> Any:
    """Distance in units of the last place, per element (0 where both are nan)."""
    low = np.iinfo(np.int64).min
    ia, ib = (np.where(x.view(np.int64) < 0, low - x.view(np.int64), x.view(np.int64))
              for x in (np.asarray(a, np.float64), np.asarray(b, np.float64)))
    with np.errstate(over="ignore"):
        d = np.abs(ia - ib)
    return np.where(np.isnan(a) & np.isnan(b), 0, d)


def _fast_arguments(arity: int) -> list[Any]:
    rng = np.random.default_rng(15)
    n = 60_000
    wide = np.concatenate([rng.uniform(-5, 5, n), rng.uniform(-800, 800, n // 4),
                           rng.standard_normal(n // 4) * 1e-3,
                           np.exp(rng.uniform(-700, 700, n // 4)) * rng.choice([-1, 1], n // 4)])
    grid = [(a, b) for a in GRID for b in GRID] if arity == 2 else [(a,) for a in GRID]
    columns = [np.concatenate([wide, [row[0] for row in grid]])]
    if arity == 2:
        columns = [np.concatenate([np.abs(wide), [row[0] for row in grid]]),
                   np.concatenate([rng.uniform(-3, 3, wide.size), [row[1] for row in grid]])]
    return columns


def test_fast_kernels_keep_classes_and_their_ulps_bound() -> None:
    from vetgrad.engine.batch_kernels import FAST, FAST_ULPS

    assert set(FAST) == set(FAST_ULPS)
    for name, kernel in FAST.items():
        op = OPS[name]
        columns = _fast_arguments(op.arity)
        with np.errstate(all="ignore"):
            got = kernel(*columns)
        want = np.fromiter(map(op.forward, *(c.tolist() for c in columns)), np.float64,
                           columns[0].size)
        assert (np.isnan(got) == np.isnan(want)).all(), name
        assert (np.isinf(got) == np.isinf(want)).all(), name
        zero = want == 0.0
        assert (np.signbit(got[zero]) == np.signbit(want[zero])).all(), name
        assert (got[zero] == 0.0).all(), name
        worst = int(_ulps(got, want).max())
        assert worst <= FAST_ULPS[name], (name, worst)


def test_fast_batch_keeps_the_rows_derivatives_on_its_own_values() -> None:
    from vetgrad.engine.batch_kernels import FAST, FAST_ULPS

    for name in FAST:
        op = OPS[name]
        leaves = [Value(0.37), Value(1.9)][:op.arity]
        c = Compiled.from_graph(leaves, op.call(*leaves), name=name)  # type: ignore[misc]
        columns = [col[::7] for col in _fast_arguments(op.arity)]
        values, grads = c.batch(*columns, exact=False)
        exact_values, _ = c.batch(*columns)
        assert int(_ulps(values, exact_values).max()) <= FAST_ULPS[name], name
        if name == "tanh":  # really numpy's kernel: it differs from C's on 1 argument in 5
            assert (_ulps(values, exact_values) > 0).mean() > 0.05
        for i in range(0, values.size, 13):
            row = [float(col[i]) for col in columns]
            want = op.vjp(FLOAT, 1.0, *row, float(values[i]))  # type: ignore[misc]
            want = want if op.arity == 2 else (want,)
            assert all(same(g[i], w) for g, w in zip(grads, want)), (name, row)
