"""Every row of the op table holds every fact its consumers read, and the facts agree with each
other: the exact (mpmath) rules with the float forward and VJP, the spelling with the engine, the
parameter sampler with the parameters. A new op that lacks one fails here (or at import)."""

from __future__ import annotations

import math
import random

import pytest
from vetgrad.engine import OPS, Value, public_ops
from vetgrad.engine.ops import FLOAT, Op

mp = pytest.importorskip("mpmath", reason="the exact rules are evaluated with mpmath")

PUBLIC = public_ops()
COMPARED = [op for op in OPS.values() if op.torch_name]  # public ops and pow_scalar


class _Source:
    """A seeded conformance Source (integer, uniform, chance)."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def integer(self, lo: int, hi: int) -> int:
        return self.rng.randint(lo, hi)

    def uniform(self, lo: float, hi: float) -> float:
        return self.rng.uniform(lo, hi)

    def chance(self, p: float) -> bool:
        return self.rng.random() < p


def _point(op: Op, seed: int) -> tuple[float, ...]:
    """Inputs in the op's well-conditioned domain, away from kinks (ordinary inputs)."""
    rng = random.Random(seed)
    xs = tuple(rng.uniform(*op.domain[min(k, len(op.domain) - 1)]) for k in range(op.arity))
    return xs


def _params(op: Op, seed: int) -> tuple:
    return op.sample_params(_Source(seed)) if op.sample_params else op.sweep_params[0]


def _close(a: float, b: float, rel: float = 1e-12) -> bool:
    return abs(a - b) <= rel * max(abs(a), abs(b), 1e-300)


@pytest.mark.parametrize("op", COMPARED, ids=[op.name for op in COMPARED])
def test_row_has_every_fact(op: Op) -> None:
    assert op.missing_facts() == []
    assert op.doc and op.torch_name.startswith("torch.")
    if op.public:
        assert op.call is not None and op.spell(["a", "b"][:op.arity])


@pytest.mark.parametrize("op", COMPARED, ids=[op.name for op in COMPARED])
def test_exact_rules_agree_with_the_float_rules(op: Op) -> None:
    checked = 0
    for seed in range(40):
        xs, params = _point(op, seed), _params(op, seed)
        out = op.forward(*xs, *params)
        with mp.workprec(160):
            exact = op.exact(mp, *map(mp.mpf, xs), *params)
            assert exact is not None, (op.name, xs, params)
            assert _close(out, float(exact), 1e-12), (op.name, xs, out, exact)
            checked += 1
            if op.vjp is None:
                continue
            grads = op.vjp(FLOAT, 1.0, *xs, out, *params)
            grads = grads if op.arity == 2 else (grads,)
            rule = op.exact_grad(mp, *map(mp.mpf, xs), mp.mpf(out), *params)
            assert rule is not None and len(rule) == op.arity, (op.name, xs)
            for g, d in zip(grads, rule):
                d = d[0] if isinstance(d, tuple) else d
                assert abs(g - float(d)) <= 1e-10 * max(1.0, abs(float(d))), (op.name, xs, g, d)
    assert checked == 40


@pytest.mark.parametrize("op", PUBLIC, ids=[op.name for op in PUBLIC])
def test_spelling_is_the_engines_call(op: Op) -> None:
    """The reproducer's source text (``Op.spell``) and ``Op.call`` compute the same node."""
    xs, params = _point(op, 1), _params(op, 1)
    names = {f"x{k}": Value(x) for k, x in enumerate(xs)}
    source = op.spell(list(names), [repr(p) for p in params])
    assert eval(source, {}, dict(names)).data == op.call(*names.values(), *params).data


@pytest.mark.parametrize("op", [op for op in COMPARED if op.params], ids=lambda op: op.name)
def test_parameter_facts_fit_the_parameters(op: Op) -> None:
    for p in op.sweep_params:
        assert len(p) == len(op.params)
    if op.public:
        for seed in range(50):
            assert len(op.sample_params(_Source(seed))) == len(op.params)


@pytest.mark.parametrize("op", [op for op in COMPARED if op.branch or op.kink], ids=lambda op: op.name)
def test_piecewise_facts_take_the_ops_inputs(op: Op) -> None:
    xs, params = _point(op, 2), _params(op, 2)
    if op.branch is not None:
        assert isinstance(op.branch(*xs, *params), tuple)
    if op.kink is not None:
        assert op.kink(*[0.0] * op.arity) in (True, False)


@pytest.mark.torch
@pytest.mark.parametrize("op", COMPARED, ids=[op.name for op in COMPARED])
def test_torch_function_computes_the_forward(op: Op) -> None:
    torch = pytest.importorskip("torch")
    xs, params = _point(op, 3), _params(op, 3)
    tensors = [torch.tensor(x, dtype=torch.float64) for x in xs]
    assert _close(op.torch(torch, *tensors, *params).item(), op.forward(*xs, *params), 1e-13)


@pytest.mark.parametrize(("missing", "row"), [
    ("exact", dict(method="twice", torch_name="torch.mul")),
    ("exact_grad", dict(method="twice", torch_name="torch.mul", exact=lambda mp, a: 2 * a)),
    ("torch_name", dict(method="twice", exact=lambda mp, a: 2 * a,
                        exact_grad=lambda mp, a, out: (2,))),
    ("sample_params", dict(method="twice", params=(("k", 2.0),), torch_name="torch.mul",
                           exact=lambda mp, a, k: k * a, exact_grad=lambda mp, a, out, k: (k,))),
])
def test_a_row_that_lacks_a_fact_fails_at_import(missing: str, row: dict) -> None:
    with pytest.raises(TypeError, match=f"lacks {missing}"):
        Op("twice", 1, "twice", lambda a, *k: 2 * a, lambda F, g, a, out, *k: 2 * g, "2a", **row)


def test_new_ops_are_values_methods() -> None:
    x = Value(0.5)
    for name in ("log1p", "expm1", "atan"):
        assert math.isclose(getattr(x, name)().data, getattr(math, name)(0.5))
    assert x.atan2(Value(-2.0)).data == math.atan2(0.5, -2.0) == x.atan2(-2.0).data
