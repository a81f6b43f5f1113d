"""Every op of the op table against PyTorch float64: values and gradients on an edge-value grid."""

from __future__ import annotations

import itertools
import math

import pytest
from vetgrad.conformance.judging.numerics import float_class, ulp_distance
from vetgrad.engine import OPS, Value, public_ops

torch = pytest.importorskip("torch", reason="these tests compare with PyTorch")

INF, NAN = math.inf, math.nan
EDGES = (0.0, -0.0, 1.0, -1.0, INF, -INF, NAN, 1e-300, -1e-300, 1e300, -1e300, 0.5, -2.5, 3.0,
         20.0, -20.0, 710.0, 1e-8, 2.0, -3.0, 5e-324, -5e-324, 1e-310)
# Bit for bit (non-finite results by class), except where the row allows a few ulps (``Op.ulps``:
# ops in C libm, whose vectorised kernels in torch round differently). Parameters: the row's
# sweep, and nan bounds for clamp.
EXTRA_PARAMS = {"clamp": [(NAN, 1.0), (0.0, NAN)]}


def params_of(op) -> list[tuple]:
    return [*op.sweep_params, *EXTRA_PARAMS.get(op.name, [])]


def engine_apply(name: str, inputs: tuple[float, ...], params: tuple) -> tuple[float, list[float] | None]:
    op = OPS[name]
    leaves = [Value(x) for x in inputs]
    out = leaves[0] ** params[0] if name == "pow_scalar" else op.call(*leaves, *params)
    try:
        out.backward()
    except RuntimeError:
        return out.data, None
    return out.data, [v.grad for v in leaves]


def torch_apply(name: str, inputs: tuple[float, ...], params: tuple) -> tuple[float, list[float] | None]:
    op = OPS[name]
    leaves = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in inputs]
    out = op.torch(torch, *leaves, *params)
    try:
        out.backward()
    except RuntimeError:
        return out.item(), None
    return out.item(), [v.grad.item() for v in leaves]


def cases():
    for op in [*public_ops(), OPS["pow_scalar"]]:
        grid = list(dict.fromkeys(EDGES + op.special))
        inputs = itertools.product(grid, repeat=op.arity)
        for params in params_of(op):
            yield pytest.param(op.name, params, list(inputs) if params == params_of(op)[0]
                               else list(itertools.product(grid, repeat=op.arity)),
                               id=f"{op.name}{params or ''}")


def agree(mine: float, ref: float, ulps: int) -> bool:
    return float_class(mine) == float_class(ref) and ulp_distance(mine, ref) <= ulps


@pytest.mark.torch
@pytest.mark.parametrize(("name", "params", "grid"), list(cases()))
def test_op_matches_torch_on_edge_grid(name: str, params: tuple, grid: list) -> None:
    ulps = OPS[name].ulps
    bad = []
    for inputs in grid:
        value, grads = engine_apply(name, inputs, params)
        ref_value, ref_grads = torch_apply(name, inputs, params)
        if not agree(value, ref_value, ulps):
            bad.append(f"{name}{inputs} value {value!r} vs torch {ref_value!r}")
        if (grads is None) != (ref_grads is None):
            bad.append(f"{name}{inputs} backward raised={grads is None}, torch raised={ref_grads is None}")
        elif grads is not None:
            for i, (g, r) in enumerate(zip(grads, ref_grads)):
                if not agree(g, r, ulps):
                    bad.append(f"{name}{inputs} grad[{i}] {g!r} vs torch {r!r}")
    assert not bad, f"{len(bad)} disagreements:\n" + "\n".join(bad[:40])


GRADS = (1.0, -1.0, 0.0, -0.0, 0.5, 3e300, -1e-300, INF, -INF, NAN)
# Ops a backward() pass can run without parameters: every inlined branch of its loop is one.
PLAIN = [op.name for op in public_ops() if op.differentiable and not op.params]


# (each hand-written backward step and loop branch: tests/test_engine_inlined.py)


@pytest.mark.parametrize("name", PLAIN)
def test_backward_loop_inlines_the_rule_bit_identically(name: str) -> None:
    """backward() writes the hot ops' backward steps out in its loop and calls the others' back;
    through it, every leaf gets exactly what the VJP rule gives (earlier grads added last)."""
    from vetgrad.engine.ops import _float_back

    op = OPS[name]
    generic = _float_back(op, ())
    for inputs in itertools.product(EDGES, repeat=op.arity):
        for g in GRADS:
            for start in (None, 0.0, 2.0):  # None: never set (the pass assigns); else added to
                leaves = [Value(x) for x in inputs]
                for leaf in leaves:
                    if start is not None:
                        leaf.grad = start
                op.call(*leaves).backward(g)
                got = [leaf.grad for leaf in leaves]
                leaves = [Value(x) for x in inputs]
                node = op.call(*leaves)
                node.grad = g * 1.0
                for leaf in leaves:
                    leaf.grad = -0.0
                generic(node)
                want = [leaf.grad if start is None else start + leaf.grad for leaf in leaves]
                assert [x.hex() if x == x else "nan" for x in got] == \
                    [x.hex() if x == x else "nan" for x in want], (name, inputs, g, start)


def _forward_cases():
    """(op, how it is called, params): every public op through every spelling Value has for it."""
    for op in [*public_ops(), OPS["pow_scalar"]]:
        for params in params_of(op):
            if op.name == "pow_scalar":
                yield op, "x ** c", params
            elif op.arity == 1:
                yield op, "op(x)", params
            else:
                yield op, "op(x, y)", params
                if op.name != "pow":  # Value ** number is pow_scalar (above)
                    yield op, "op(x, c)", params
                if op.dunder:
                    yield op, "op(c, x)", params


@pytest.mark.parametrize(("op", "form", "params"),
                         [pytest.param(*case, id=f"{case[0].name}{case[2] or ''}: {case[1]}")
                          for case in _forward_cases()])
def test_every_forward_is_the_rows_bit_for_bit(op, form: str, params: tuple) -> None:
    """Value's operators compute their forward inline (written by hand for the hot ops, the row's
    function for the others): each result is the row's ``forward`` (``reflected_forward`` for
    ``c op x`` where torch's reflected operator differs), bit for bit, with or without grad."""
    from vetgrad import engine

    reference = op.reflected_forward if form == "op(c, x)" and op.reflected_forward else op.forward
    for inputs in itertools.product(EDGES, repeat=1 if form in ("op(x)", "x ** c") else 2):
        want = _bits(reference(*inputs, *params))
        for recording in (True, False):
            with engine.enable_grad() if recording else engine.no_grad():
                if form == "x ** c":
                    out = Value(inputs[0]) ** params[0]
                elif form == "op(x)":
                    out = op.call(Value(inputs[0]), *params)
                elif form == "op(x, y)":
                    out = op.call(Value(inputs[0]), Value(inputs[1]))
                elif form == "op(x, c)":
                    out = op.call(Value(inputs[0]), inputs[1])
                else:
                    out = op.call(inputs[0], Value(inputs[1]))
            assert _bits(out.data) == want, (op.name, form, inputs, params, recording)
            assert (out._a is None) is not recording


# pow is left out: Value ** number is its own op (pow_scalar), number ** Value a leaf and a pow.
BINARY = [op.name for op in public_ops() if op.arity == 2 and op.differentiable and op.name != "pow"]


@pytest.mark.parametrize("name", BINARY)
def test_a_constant_operand_gets_what_a_constant_leaf_would(name: str) -> None:
    """``x op 2.0`` keeps 2.0 as a float (ConstOp, with its own backward step, hand-written for
    the hottest ops): value and gradient of x must be those of ``x op Value(2.0)``, bit for bit."""
    op = OPS[name]
    for x, c in itertools.product(EDGES, repeat=2):
        for g in GRADS[:6]:
            for right in (True, False) if op.dunder else (True,):  # c.maximum(x) does not exist
                if not right and op.reflected_forward:
                    continue  # c / x is torch's reciprocal(x) * c: see the reflected-operator test
                got, want, k = Value(x), Value(x), Value(c)
                out = op.call(got, c) if right else op.call(c, got)
                ref = op.call(want, k) if right else op.call(k, want)
                assert isinstance(out._spec, type(op.const_left)) and out._spec.right is right
                out.backward(g)
                ref.backward(g)
                assert [_bits(out.data), _bits(got.grad)] == [_bits(ref.data), _bits(want.grad)], \
                    (name, x, c, g, right)


def _bits(x: float) -> str:
    return x.hex() if x == x else "nan"


OPERATORS = [op for op in public_ops() if op.arity == 2 and op.dunder]


@pytest.mark.torch
@pytest.mark.parametrize("op", OPERATORS, ids=[op.name for op in OPERATORS])
def test_number_on_the_left_is_torchs_reflected_operator(op) -> None:
    """``2.0 / x`` is what torch computes for ``2.0 / tensor`` (``__rtruediv__``: reciprocal(x) * 2),
    not torch.div(tensor(2.0), x); likewise for every operator with a plain number on the left.
    Where torch's reflected operator has no derivative (``2.0 % x``), the gradient is that of
    torch.remainder(tensor(2.0), x)."""
    bad = []
    for c, x in itertools.product(EDGES, repeat=2):
        leaf = Value(x)
        out = op.call(c, leaf)
        t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
        ref = op.call(c, t)
        if _raises(out.backward):  # '//' has no derivative: nor has torch's
            if not _raises(ref.backward) or _bits(out.data) != _bits(ref.item()):
                bad.append(f"{c!r} {op.symbol} {x!r}: {out.data!r}, torch {ref.item()!r}")
            continue
        if _raises(ref.backward):
            t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
            op.call(torch.tensor(c, dtype=torch.float64), t).backward()
        if _bits(out.data) != _bits(ref.item()) or _bits(leaf.grad) != _bits(t.grad.item()):
            bad.append(f"{c!r} {op.symbol} {x!r}: {out.data!r}, grad {leaf.grad!r}; "
                       f"torch {ref.item()!r}, grad {t.grad.item()!r}")
    assert not bad, f"{len(bad)} disagreements:\n" + "\n".join(bad[:20])


def _raises(backward) -> bool:
    try:
        backward()
    except RuntimeError:
        return True
    return False


@pytest.mark.torch
@pytest.mark.parametrize("exponent", [2.0, 3.0, -1.0, -2.0, 4.0, -3.0])  # (0.5: torch's sqrt, below)
def test_power_by_a_number_is_torchs_kernel_bit_for_bit(exponent: float) -> None:
    """torch computes x**2, x**3, x**-1, x**-2 as products and quotients (the lecture's loss is
    (y - t)**2), and the gradient as exponent * x**(exponent - 1) with the same special cases.
    Exponents through sqrt are held within ulps by the edge-grid test: torch's vectorised sqrt is
    not correctly rounded on every CPU."""
    import random

    rng = random.Random(7)
    xs = [rng.uniform(-5.0, 5.0) for _ in range(400)] + [rng.uniform(0.0, 1e-3) for _ in range(100)]
    bad = []
    for x in xs:
        value, grads = engine_apply("pow_scalar", (x,), (exponent,))
        ref_value, ref_grads = torch_apply("pow_scalar", (x,), (exponent,))
        if _bits(value) != _bits(ref_value) or _bits(grads[0]) != _bits(ref_grads[0]):
            bad.append(f"{x!r} ** {exponent}: {value!r} grad {grads[0]!r}; torch {ref_value!r} "
                       f"grad {ref_grads[0]!r}")
    assert not bad, f"{len(bad)} of {len(xs)} differ:\n" + "\n".join(bad[:10])
