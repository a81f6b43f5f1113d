"""The engine's graph machinery: depth, accumulation, determinism, freeing, higher order, errors."""

from __future__ import annotations

import copy
import gc
import math
import os
import pickle
import subprocess
import sys
import weakref

import pytest
from vetgrad import engine
from vetgrad.engine import Value, grad, gradcheck, no_grad, to_dot


def test_lecture_example_a_times_b_plus_c() -> None:
    a, b, c = Value(2.0, label="a"), Value(-3.0, label="b"), Value(10.0, label="c")
    e = a * b
    d = e + c
    f = Value(-2.0, label="f")
    L = d * f
    L.backward()
    assert (L.data, a.grad, b.grad, c.grad, f.grad, e.grad, d.grad) == (-8.0, 6.0, -4.0, -2.0, 4.0, -2.0, -2.0)
    assert L._op == "*" and set(L._prev) == {d, f} and isinstance(L._prev, tuple)


def test_lecture_neuron_and_manual_backward_steps() -> None:
    x1, x2, w1, w2, b = Value(2.0), Value(0.0), Value(-3.0), Value(1.0), Value(6.8813735870195432)
    n = x1 * w1 + x2 * w2 + b
    o = n.tanh()
    o.grad = 1.0
    o._backward()
    assert n.grad == pytest.approx(0.5, abs=1e-12)
    o2 = (x1 * w1 + x2 * w2 + b).tanh()
    for v in (x1, x2, w1, w2):
        v.grad = 0.0
    o2.backward()
    assert (x1.grad, w1.grad, x2.grad, w2.grad) == pytest.approx((-1.5, 1.0, 0.5, 0.0), abs=1e-12)


@pytest.mark.parametrize(("expr", "expected"), [
    ("2 + x", 5.0), ("x + 2", 5.0), ("2 - x", -1.0), ("x - 2", 1.0), ("2 * x", 6.0), ("6 / x", 2.0),
    ("x / 2", 1.5), ("2 ** x", 8.0), ("x ** 2", 9.0), ("-x", -3.0), ("7 // x", 2.0), ("7 % x", 1.0),
    ("sum([x, x, x])", 9.0), ("abs(-x)", 3.0), ("x.maximum(4)", 4.0), ("x.clamp(hi=1)", 1.0),
])
def test_plain_numbers_on_either_side(expr: str, expected: float) -> None:
    assert eval(expr, {"x": Value(3.0)}).data == expected


def test_pow_label_is_micrographs() -> None:
    assert (Value(3.0) ** 2)._op == "**2" and (Value(3.0) ** 0.5)._op == "**0.5"


@pytest.mark.slow
def test_million_node_chain_backward_has_no_depth_limit() -> None:
    x = Value(0.5)
    y = x
    for _ in range(1_000_000):
        y = y.tanh()
    y.backward()
    assert 0.0 < x.grad < 1.0 and math.isfinite(x.grad)


def test_backward_twice_adds_the_same_amount_again() -> None:
    x = Value(1.5)
    h = x * x
    y = h * h + h  # x**4 + x**2: dy/dx = 4x^3 + 2x
    y.backward()
    first, h_first = x.grad, h.grad
    y.backward()
    assert x.grad == 2 * first == 2 * (4 * 1.5**3 + 2 * 1.5)
    assert h.grad == 2 * h_first


def test_two_roots_sharing_a_node_do_not_double_count() -> None:
    x = Value(2.0)
    h = x * 3.0
    (h * h).backward()  # d/dx (3x)^2 = 18x = 36
    h.tanh().backward()
    assert x.grad == pytest.approx(36.0 + 3.0 * (1 - math.tanh(6.0) ** 2), rel=1e-15)


def test_signed_zero_gradient_is_kept() -> None:
    x = Value(1.0)
    (x * -0.0).backward()
    assert math.copysign(1.0, x.grad) == -1.0


def test_zero_grad_helpers() -> None:
    x, y = Value(1.0), Value(2.0)
    z = (x * y).exp()
    z.backward()
    engine.zero_grad([x])
    assert x.grad == 0.0 and y.grad != 0.0
    z.zero_grad()
    assert (x.grad, y.grad, z.grad) == (0.0, 0.0, 0.0)


def test_dropped_graph_is_freed_by_reference_counting() -> None:
    gc.collect()
    gc.disable()
    try:
        leaf = Value(0.3)
        watcher = weakref.ref(leaf)
        y = leaf
        for i in range(1000):
            y = (y * y + i).tanh() if i % 2 else y.sigmoid() - leaf
        y.backward()
        del y, leaf
        assert watcher() is None, "graph outlived its last reference: a reference cycle"
    finally:
        gc.enable()


def test_values_can_be_weakly_referenced() -> None:
    x = Value(2.0)
    y = x * x
    cache = weakref.WeakKeyDictionary({y: "square"})
    watcher = weakref.ref(y)
    assert watcher() is y and cache[y] == "square"
    del y
    assert watcher() is None and not cache and x.data == 2.0


def test_graph_makes_no_cyclic_garbage() -> None:
    gc.collect()
    x = Value(0.1)
    y = x
    for _ in range(500):
        y = (y + x).relu() * 0.5
    y.backward()
    del x, y
    assert gc.collect() == 0


def _every_kind_of_node(a: Value, b: Value) -> Value:
    """Plain, constant-on-either-side and parameterised ops, a shared node and a leaf used twice."""
    shared = a * b + 2.0
    return ((shared * a - 1.0 / b).tanh() + a.leaky_relu(0.2) + a**2 + b.clamp(0, 1)
            + a.maximum(b) + (2.0 - shared).exp() + 3**b)


@pytest.mark.parametrize("clone", [lambda v: pickle.loads(pickle.dumps(v)), copy.deepcopy],
                         ids=["pickle", "deepcopy"])
def test_copied_graph_shares_the_op_table_and_backpropagates_identically(clone) -> None:
    root = _every_kind_of_node(Value(0.7, label="a"), Value(-1.3))
    twin = clone(root)
    root.backward()
    twin.backward()
    nodes, copies = engine.topological_order([root]), engine.topological_order([twin])
    assert len(nodes) == len(copies) > 10 and not set(map(id, nodes)) & set(map(id, copies))
    for node, dup in zip(nodes, copies):
        assert (dup.data, dup.grad, dup._op, dup.label) == (node.data, node.grad, node._op, node.label)
        assert dup._spec is node._spec  # backward dispatches on the table's own op objects


def test_pickling_an_op_outside_the_table_names_the_problem() -> None:
    from dataclasses import replace
    stray = replace(engine.OPS["add"], name="my_add")
    with pytest.raises(TypeError, match="'my_add' is not in vetgrad's op table"):
        pickle.dumps(stray)


DETERMINISM_SCRIPT = """
import random
from vetgrad.engine import Value
r = random.Random(7)
xs = [Value(r.uniform(-1, 1)) for _ in range(20)]
nodes = list(xs)
for i in range(3000):
    a, b = r.choice(nodes[-40:]), r.choice(nodes)
    nodes.append([a + b, a * b, (a - b).tanh(), a.relu() + b.sigmoid()][i % 4])
root = sum(nodes[-200:])
root.backward()
print([x.grad.hex() for x in xs])
"""


def test_gradients_are_bit_identical_across_processes_and_hash_seeds() -> None:
    outputs = set()
    for seed in ("0", "1", "12345"):
        env = dict(os.environ, PYTHONHASHSEED=seed, PYTHONPATH=os.getcwd())
        done = subprocess.run([sys.executable, "-c", DETERMINISM_SCRIPT], env=env,
                              capture_output=True, text=True, check=True)
        outputs.add(done.stdout)
    assert len(outputs) == 1


def test_floordiv_backward_raises_like_torch_and_leaves_grads_alone() -> None:
    x = Value(7.0)
    y = x * 2.0
    z = y // 3.0 + y
    with pytest.raises(RuntimeError, match="floordiv"):
        z.backward()
    assert (x.grad, y.grad, z.grad) == (0.0, 0.0, 0.0)


def test_no_grad_and_detach_record_no_history() -> None:
    x = Value(2.0)
    with no_grad():
        y = x * x + 1
    assert y._prev == () and y.data == 5.0
    assert x.detach()._prev == () and x.detach().data == 2.0
    assert (x * x)._prev == (x, x)


def test_functional_grad_leaves_dot_grad_untouched() -> None:
    x, y = Value(2.0), Value(5.0)
    z = x * y + x
    gx, gy = grad(z, [x, y])
    assert (gx.data, gy.data, x.grad, y.grad) == (6.0, 2.0, 0.0, 0.0)
    with pytest.raises(RuntimeError, match="index 0 appears to not have been used"):
        grad(x * 2, [y])
    assert grad(x * 2, [x, y], allow_unused=True)[1] is None


@pytest.mark.torch
@pytest.mark.slow
def test_second_and_third_derivatives_match_torch() -> None:
    torch = pytest.importorskip("torch")
    fns = [
        lambda a, b: (a * b).tanh() * a.exp() + (a / b) ** 3,
        lambda a, b: (a ** b).sigmoid() + a.sin() * b.cos() - (a * a + b).log(),
        lambda a, b: a.softplus() * (b * b).sqrt() + a.maximum(b) * 2.0,
    ]
    tfns = [
        lambda a, b: torch.tanh(a * b) * torch.exp(a) + (a / b) ** 3,
        lambda a, b: torch.sigmoid(a ** b) + torch.sin(a) * torch.cos(b) - torch.log(a * a + b),
        lambda a, b: torch.nn.functional.softplus(a) * torch.sqrt(b * b) + torch.maximum(a, b) * 2.0,
    ]
    for f, tf in zip(fns, tfns):
        a, b = Value(0.7), Value(1.3)
        ta, tb = (torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in (0.7, 1.3))
        out, tout = f(a, b), tf(ta, tb)
        g, tg = out, tout
        for _order in range(3):
            (g,) = grad(g, [a], create_graph=True)
            (tg,) = torch.autograd.grad(tg, [ta], create_graph=True)
            assert g.data == pytest.approx(tg.item(), rel=1e-12)


# (engine expression, torch expression): derivatives to third order keep torch's graph, so
# piecewise-linear ops give 0 (not "unused") and tanh'' near 0 keeps its precision and sign.
KINKED = [
    ("x.relu()", "t.relu()"), ("abs(x)", "t.abs()"), ("x.leaky_relu(0.1)", "F.leaky_relu(t, 0.1)"),
    ("x.softplus()", "F.softplus(t)"), ("5.0 % x", "torch.remainder(torch.tensor(5.0).double(), t)"),
    ("x.tanh()", "t.tanh()"), ("x.sigmoid()", "t.sigmoid()"), ("x.relu() * x", "t.relu() * t"),
    ("x.clamp(-1, 1) * x", "t.clamp(-1, 1) * t"), ("abs(x) * x", "t.abs() * t"),
    ("x.softplus() * x", "F.softplus(t) * t"), ("x.tanh() * x", "t.tanh() * t"),
]


@pytest.mark.torch
@pytest.mark.parametrize(("expr", "texpr"), KINKED, ids=[e for e, _ in KINKED])
@pytest.mark.parametrize("x0", [0.5, -0.7, 1e-12, 1e-17, 0.0, -0.0, 20.0, 25.0, -30.0])
@pytest.mark.slow
def test_higher_order_derivatives_keep_torchs_graph(expr: str, texpr: str, x0: float) -> None:
    torch = pytest.importorskip("torch")
    x = Value(x0)
    t = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
    g = eval(expr, {"x": x})
    tg = eval(texpr, {"t": t, "torch": torch, "F": torch.nn.functional})
    for order in (1, 2, 3):
        (g,) = grad(g, [x], create_graph=True, allow_unused=True)
        (tg,) = torch.autograd.grad(tg, [t], create_graph=True, allow_unused=True) \
            if tg.requires_grad else (None,)
        assert (g is None) == (tg is None), f"order {order}: vetgrad {g}, torch {tg}"
        if g is None:
            return
        mine, theirs = g.data, tg.item()
        assert mine == pytest.approx(theirs, rel=1e-13, abs=0.0, nan_ok=True), f"order {order}"
        assert math.copysign(1.0, mine) == math.copysign(1.0, theirs), f"order {order}: sign of zero"


@pytest.mark.parametrize("bad", ["3", None, 1 + 2j, [1.0], (1.0,), {"x": 1}, object()])
def test_bad_data_raises_type_error_naming_it(bad) -> None:
    with pytest.raises(TypeError, match=type(bad).__name__):
        Value(bad)


def test_value_of_a_value_says_how_to_fix_it() -> None:
    with pytest.raises(TypeError, match=r"\.data"):
        Value(Value(1.0))


@pytest.mark.parametrize("bad", ["2", None, [1]])
def test_bad_operand_raises_type_error(bad) -> None:
    with pytest.raises(TypeError):
        Value(1.0) + bad
    with pytest.raises(TypeError):
        bad * Value(1.0)


def test_hand_built_nodes_follow_micrograd() -> None:
    a, b = Value(2.0), Value(3.0)
    c = Value(a.data * b.data, (a, b), "*")
    c.backward()
    assert (a.grad, b.grad) == (3.0, 2.0)
    with pytest.raises(ValueError, match="at most two"):
        Value(1.0, (a, b, c), "+")
    odd = Value(1.0, (a,), "mystery")
    with pytest.raises(RuntimeError, match="mystery"):
        odd.backward()


def test_gradcheck_accepts_correct_and_catches_a_planted_wrong_derivative() -> None:
    f = lambda a, b: (a * b).tanh() + a.exp() / b
    assert gradcheck(f, [0.3, 1.7])

    def planted(a: Value, b: Value) -> Value:  # a node computing a*a that claims to be exp(a)
        square = Value(a.data * a.data, (a,), "exp")
        return square * b

    with pytest.raises(engine.GradcheckError, match="input 0"):
        gradcheck(planted, [0.5, 1.7])
    assert gradcheck(planted, [0.5, 1.7], raise_exception=False) is False


def test_to_dot_shows_label_data_grad_and_ops() -> None:
    a = Value(2.0, label="a")
    L = (a * 3.0).tanh()
    L.label = "L"
    L.backward()
    dot = to_dot(L)
    assert dot.startswith("digraph") and "L | data 1.0000" in dot and 'label="tanh"' in dot
    assert 'label="*"' in dot and "a | data 2.0000 | grad" in dot


def test_backward_with_a_negative_zero_seed_keeps_its_sign() -> None:
    x = Value(3.0)
    y = x * 2.0
    y.backward(-0.0)
    assert math.copysign(1.0, x.grad) == -1.0 and math.copysign(1.0, y.grad) == -1.0


def test_labels_default_to_empty_and_can_be_set_on_any_node() -> None:
    a = Value(1.0, label="a")
    b = a * 2
    assert (a.label, b.label) == ("a", "")
    b.label = "b"
    assert b.label == "b"


@pytest.mark.parametrize("bad", ["a", None, [1.0]])
@pytest.mark.parametrize("method", ["maximum", "minimum"])
def test_named_binary_methods_refuse_bad_operands(method: str, bad: object) -> None:
    with pytest.raises(TypeError, match=rf"{method}\(\) needs a Value or a real number.*{type(bad).__name__}"):
        getattr(Value(1.0), method)(bad)


@pytest.mark.parametrize(("steps", "expected"), [
    ([0.0, -0.0], "0x0.0p+0"),     # a set zero plus -0.0 is +0.0 (torch: grad += -0.0)
    ([-0.0], "-0x0.0p+0"),         # the first backward assigns, keeping the sign
    (["zero", -0.0], "-0x0.0p+0"),  # zero_grad() unsets, as torch's set_to_none
    (["none", -0.0], "-0x0.0p+0"),  # grad = None (torch style) counts as unset
    ([2.0, 3.0], "0x1.4000000000000p+2"),
])
def test_gradients_accumulate_over_backward_calls_as_torch_does(steps: list, expected: str) -> None:
    x = Value(1.0)
    for step in steps:
        if step == "zero":
            x.zero_grad()
        elif step == "none":
            x.grad = None
        else:
            (x * step).backward()
    assert x.grad.hex() == expected


def test_bound_op_cache_tells_signed_zeros_apart_and_stays_bounded() -> None:
    from vetgrad.engine.ops import row as ops

    Value(-1.0).leaky_relu(0.0)
    x = Value(-1.0)
    x.leaky_relu(-0.0).backward()
    assert x.grad.hex() == "-0x0.0p+0"
    for i in range(3 * ops._BOUND_LIMIT):
        Value(2.0) ** (1.0 + i * 1e-9)
        Value(2.0) ** math.nan
    assert len(ops._BOUND) <= ops._BOUND_LIMIT
