"""micrograd's own tests against torch (karpathy/micrograd test/test_engine.py), as functions of a
``Value`` class: the same expressions and the same assertions, written anew.

- :func:`sanity_check`: one leaf through add, mul, relu with constants on both sides; the value
  and the leaf's gradient equal to torch's exactly;
- :func:`more_ops`: two leaves through add, mul, pow, neg, sub, div, relu, in-place ``+=`` on
  nodes, constants on both sides; value and both gradients within 1e-6 of torch;
- :func:`unary_fns`: tanh and exp at -1, 0.123 and 2, value and gradient within 1e-6.

Each raises (AssertionError, or whatever the engine raises) when the engine disagrees.
:data:`CHECKS` names them; :func:`failures` runs them all on one class.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

TOL = 1e-6


def _leaf(x: float) -> torch.Tensor:
    return torch.tensor([x], dtype=torch.float64, requires_grad=True)


def sanity_check(value: type) -> None:
    def build(x):
        z = 2 * x + 2 + x
        q = z.relu() + z * x
        h = (z * z).relu()
        return h + q + q * x

    xv = value(-4.0)
    yv = build(xv)
    yv.backward()
    xt = _leaf(-4.0)
    yt = build(xt)
    yt.backward()
    assert yv.data == yt.item(), f"value {yv.data} != torch {yt.item()}"
    assert xv.grad == xt.grad.item(), f"grad {xv.grad} != torch {xt.grad.item()}"


def more_ops(value: type) -> None:
    def build(a, b):
        c = a + b
        d = a * b + b**3
        c = c + (c + 1)
        c = c + (1 + c + (-a))
        d = d + (d * 2 + (b + a).relu())
        d = d + (3 * d + (b - a).relu())
        e = c - d
        f = e**2
        g = f / 2.0
        return g + 10.0 / f

    av, bv = value(-4.0), value(2.0)
    gv = build(av, bv)
    gv.backward()
    at, bt = _leaf(-4.0), _leaf(2.0)
    gt = build(at, bt)
    gt.backward()
    assert abs(gv.data - gt.item()) < TOL, f"value {gv.data} vs torch {gt.item()}"
    assert abs(av.grad - at.grad.item()) < TOL, f"d/da {av.grad} vs torch {at.grad.item()}"
    assert abs(bv.grad - bt.grad.item()) < TOL, f"d/db {bv.grad} vs torch {bt.grad.item()}"


def unary_fns(value: type) -> None:
    for name in ("tanh", "exp"):
        for x in (-1.0, 0.123, 2.0):
            xv = value(x)
            yv = getattr(xv, name)()
            yv.backward()
            xt = _leaf(x)
            yt = getattr(xt, name)()
            yt.backward()
            assert abs(yv.data - yt.item()) < TOL, f"{name}({x}) = {yv.data} vs torch {yt.item()}"
            assert abs(xv.grad - xt.grad.item()) < TOL, f"{name}'({x}) = {xv.grad} vs torch {xt.grad.item()}"


CHECKS: dict[str, Callable[[type], None]] = {
    "test_sanity_check": sanity_check, "test_more_ops": more_ops, "test_unary_tensor_fns": unary_fns}


def failures(value: type) -> dict[str, str]:
    """The checks that fail on ``value``: name -> why (the assertion or the exception raised)."""
    failed = {}
    for name, check in CHECKS.items():
        try:
            check(value)
        except Exception as exc:
            failed[name] = f"{type(exc).__name__}: {exc}"[:200]
    return failed
