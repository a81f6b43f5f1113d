"""Value's methods come from the op table (hand-written for the hot ops, made from the row for the
others), and its unset-grad marker cannot be confused with any other 0.0."""

from __future__ import annotations

import copy
import math
import pickle
import types
from pathlib import Path

import pytest
from vetgrad import engine
from vetgrad.engine import OPS, Op, Value, backprop, grad_is_set, methods
from vetgrad.engine import value as value_module
from vetgrad.engine.backprop import UNSET
from vetgrad.engine.ops import _float_back


def _constants(code: types.CodeType):
    """Every constant of ``code`` and of the functions and classes defined in it."""
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _constants(const)
        else:
            yield const


ENGINE_MODULES = [f"vetgrad.engine.{m}" for m in ("value", "backprop", "autograd", "ops", "ops.row", "ops.arithmetic",
                                                  "ops.piecewise", "ops.smooth", "ops.derivatives", "ieee")]


@pytest.mark.parametrize("module", ENGINE_MODULES)
def test_no_literal_of_the_engine_is_a_grad_marker(module: str) -> None:
    """A float literal is one constant object per module (CPython merges equal constants of a
    compilation unit), so a marker told by identity must not be a literal: ``x.grad = 0.0``
    written anywhere in value.py must not read as unset, nor ``-0.0`` as backward's done mark."""
    import importlib.util

    spec = importlib.util.find_spec(module)
    # the file itself: under pytest the package's loader may be pytest's assertion rewriter
    # (vetgrad's pytest11 plugin makes pytest rewrite the distribution's modules)
    source = Path(spec.origin).read_text(encoding="utf-8")
    code = compile(source, spec.origin, "exec")
    floats = [c for c in _constants(code) if isinstance(c, float)]
    assert 0.0 in floats or module != "vetgrad.engine.ops.piecewise"  # relu's forward writes 0.0
    if module == "vetgrad.engine.value":  # and so does Value.relu, made from relu's row
        assert 0.0 in list(_constants(Value.relu.__code__))
    assert not [c for c in floats if c is UNSET or c is backprop._FRESH]
    # and the module as imported: its functions' own constants
    loaded = importlib.import_module(module)
    for obj in vars(loaded).values():
        for function in ([obj] if isinstance(obj, types.FunctionType) else
                         [f for f in vars(obj).values() if isinstance(f, types.FunctionType)]
                         if isinstance(obj, type) and obj.__module__ == module else []):
            assert not [c for c in _constants(function.__code__) if c is UNSET or c is backprop._FRESH]


def test_the_unset_marker_is_a_zero_of_its_own() -> None:
    assert UNSET == 0.0 and not math.copysign(1.0, UNSET) < 0 and type(UNSET) is not float
    assert repr(Value(2.0)) == "Value(data=2.0, grad=0.0)" and f"{UNSET}" == str(UNSET) == "0.0"
    v = Value(-1.0)
    assert not grad_is_set(v)
    v.grad = v.relu().data  # the 0.0 literal of value.py's relu: a set zero, not unset
    assert grad_is_set(v)
    for zero in (0.0, -0.0, 1.0 - 1.0, float("0.0"), UNSET + 0.0, UNSET * 1.0):
        v.grad = zero
        assert grad_is_set(v), zero
    engine.zero_grad([v], set_to_none=False)
    assert grad_is_set(v) and v.grad == 0.0 and type(v.grad) is float


@pytest.mark.parametrize("clone", [lambda v: pickle.loads(pickle.dumps(v)), copy.deepcopy, copy.copy],
                         ids=["pickle", "deepcopy", "copy"])
def test_a_copied_unset_grad_stays_unset(clone) -> None:
    """torch's None survives a copy; so does the marker (it pickles as a reference to itself)."""
    x = Value(3.0)
    y = (x * -1.0).relu()  # d y / d x = -0.0 * ... : the first gradient's sign must survive
    twin = clone(y)
    assert twin.grad is UNSET and not grad_is_set(twin)
    twin.backward()
    y.backward()
    assert [(v.data, v.grad, math.copysign(1.0, v.grad)) for v in engine.topological_order([twin])] == \
        [(v.data, v.grad, math.copysign(1.0, v.grad)) for v in engine.topological_order([y])]


# -- methods from the table -----------------------------------------------------------------------


def test_every_spelling_in_the_table_is_a_method_of_value() -> None:
    """Every name a row asks for is on Value: the hand-written method (its code in the class body)
    or the one made from the row (engine/methods.py), named ``Value.<name>`` (pickle relies on it)
    with the row's doc."""
    for op in OPS.values():
        for name in methods.names_of(op):
            method = Value.__dict__[name]
            hand = methods.spelled(method) == op.name
            assert hand or method.__code__.co_name in ("method", "reflected"), (op.name, name)
            assert method.__qualname__ == f"Value.{method.__name__}", name
            assert method.__name__ == name or (name, method.__name__) == (op.method, f"__{op.dunder}__")
            assert method.__doc__ == op.doc or (hand and op.name in ("leaky_relu", "clamp")), name
    for name in ("__pow__", "__rpow__", "leaky_relu", "clamp"):
        assert methods.spelled(Value.__dict__[name]) is not None, name  # not overwritten
    assert Value.abs is Value.__abs__


def _log1p_vjp(F, g, a, out):
    return F.div(g, 1.0 + a)


def _atan2_vjp(F, g, a, b, out):
    d = a * a + b * b
    return g * F.div(b, d), g * F.div(-a, d)


def _row(name: str, arity: int, forward, vjp, **spelling) -> Op:
    # the harness's facts are placeholders here: these tests exercise the engine's side only
    facts = dict(torch_name="torch.placeholder", exact=lambda mp, *a: None,
                 exact_grad=lambda mp, *a: None)
    return Op(name, arity, name, forward, vjp, f"{name}: a row added later", **facts, **spelling)


def _install(monkeypatch: pytest.MonkeyPatch, op: Op) -> None:
    for name, function in methods.methods_of(op, vars(value_module)).items():
        monkeypatch.setattr(Value, name, function, raising=False)


def test_a_new_unary_row_gets_a_working_method(monkeypatch: pytest.MonkeyPatch) -> None:
    """A row with ``method="log1p"`` and its forward and VJP is all a new op needs."""
    op = _row("log1p_new", 1, math.log1p, _log1p_vjp, method="log1p_new")
    _install(monkeypatch, op)
    x = Value(0.5)
    y = x.log1p_new()
    assert y.data == math.log1p(0.5) and y._spec is op and y._prev == (x,) and y._op == "log1p_new"
    y.backward()
    assert x.grad == 1.0 / 1.5
    assert Value.log1p_new.__qualname__ == "Value.log1p_new" and Value.log1p_new.__doc__ == op.doc
    with engine.no_grad():
        assert x.log1p_new()._a is None


def test_a_new_binary_method_takes_a_constant_on_the_right_only(monkeypatch: pytest.MonkeyPatch) -> None:
    op = _row("atan2_new", 2, math.atan2, _atan2_vjp, method="atan2_new")
    _install(monkeypatch, op)
    a, b = Value(1.0), Value(2.0)
    out = a.atan2_new(b)
    assert out.data == math.atan2(1.0, 2.0) and out._prev == (a, b)
    out.backward()
    ga, gb = _atan2_vjp(engine.ops.FLOAT, 1.0, 1.0, 2.0, out.data)
    assert (a.grad, b.grad) == (ga, gb)
    x = Value(1.0)
    c = x.atan2_new(2)  # an int constant becomes a float kept in the node (ConstOp)
    assert c._spec is op.const_right and c._b == 2.0 and type(c._b) is float
    c.backward()
    assert x.grad == ga
    with pytest.raises(TypeError, match=r"atan2_new\(\) needs a Value or a real number .* got str"):
        x.atan2_new("2")
    assert not hasattr(Value, "__ratan2_new__")


def test_a_new_operator_row_gets_both_sides(monkeypatch: pytest.MonkeyPatch) -> None:
    op = _row("xor_new", 2, lambda a, b: a - 2.0 * b, lambda F, g, a, b, out: (g, -2.0 * g),
              dunder="xor")
    _install(monkeypatch, op)
    x = Value(1.0)
    assert (x ^ Value(3.0)).data == -5.0 and (x ^ 3.0).data == -5.0 and (3 ^ x).data == 1.0
    left = 3.0 ^ x
    assert left._spec is op.const_left
    left.backward()
    assert x.grad == -2.0
    assert _float_back(op, ()) is not None
    with pytest.raises(TypeError, match="unsupported operand"):
        x ^ "3"


def test_the_installer_refuses_a_name_value_already_has() -> None:
    row = _row("detach_new", 1, math.log1p, _log1p_vjp, method="detach")
    with pytest.raises(TypeError, match=r"asks for Value\.detach, which Value already has"):
        methods.install(Value, [row], vars(value_module))
    assert Value.detach.__code__.co_name == "detach"


def _hardtanh(a, lo, hi):
    return lo if a < lo else hi if a > hi else a


def _hardtanh_vjp(F, g, a, out, lo, hi):
    return g if lo <= F.val(a) <= hi else 0.0


def test_a_unary_row_with_parameters_gets_a_method_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """``hardtanh(lo=-1, hi=1)``: parameters by position or name, the row's defaults, coerced."""
    op = _row("hardtanh_new", 1, _hardtanh, _hardtanh_vjp, method="hardtanh_new",
              params=(("lo", -1.0), ("hi", 1.0)), sample_params=lambda source: (-1.0, 1.0))
    _install(monkeypatch, op)
    x = Value(2.5)
    for y, want in ((x.hardtanh_new(), 1.0), (x.hardtanh_new(-2, 3), 2.5), (x.hardtanh_new(hi=2), 2.0)):
        assert y.data == want and y.op is op
    y = x.hardtanh_new(-3.0, 3.0)
    assert y.params == (-3.0, 3.0) and type(y.params[1]) is float
    y.backward()
    assert x.grad == 1.0
    for bad, message in (((1, 2, 3), "at most 2 parameters"), (("0",), "hardtanh_new lo must be a real"),
                         ((), "unexpected parameter 'slope'")):
        with pytest.raises(TypeError, match=message):
            x.hardtanh_new(*bad, **({"slope": 1.0} if not bad else {}))
    with pytest.raises(TypeError, match="parameter 'lo' twice"):
        x.hardtanh_new(0.0, lo=1.0)


def test_a_binary_row_with_parameters_needs_a_hand_written_method() -> None:
    with pytest.raises(TypeError, match="write its Value method by hand"):
        methods.methods_of(_row("scale_new", 2, lambda a, b, k: a * k, None, method="scale_new",
                                params=(("k", 2.0),), sample_params=lambda source: (2.0,)),
                           vars(value_module))
