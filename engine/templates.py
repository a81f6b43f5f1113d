"""Source templates of the hot ops for :mod:`engine.codegen`: the float code a compiled replay
inlines instead of calling the op's row (``v3 = v1 * v2``, ``g1 += g3 * v2``).

Keys are ``(op name, form)``: ``"nn"`` two nodes, ``"n"`` a unary op, ``"nc"`` a constant on the
right (``x * 2.0``), ``"cn"`` on the left (``2.0 - x``). Placeholders: ``{a}`` and ``{b}`` the
operands' values, ``{c}`` the constant (a literal), ``{out}`` the node's value, ``{g}`` its
gradient. A backward entry holds one expression per operand that gets a gradient (for a constant
form, only the node operand). The templates are the rows' ``forward`` and ``vjp`` (and
``backward()``'s inlined steps) written out; tests/test_compile.py holds each bit-identical to its
row on an edge grid (±0, ±inf, nan, subnormals). Any op or form missing here calls its row.
"""

from __future__ import annotations

import math
from typing import Any, Callable

from vetgrad.engine import ieee

# Names the templates use, bound in the namespace of the generated code.
NAMESPACE: dict[str, Any] = {"div": ieee.div, "tanh": math.tanh, "exp": ieee.exp,
                             "sign": ieee.sign, "inf": math.inf, "nan": math.nan}

FORWARD: dict[tuple[str, str], str] = {
    ("add", "nn"): "{a} + {b}",
    ("add", "nc"): "{a} + {c}",
    ("add", "cn"): "{c} + {a}",
    ("sub", "nn"): "{a} - {b}",
    ("sub", "nc"): "{a} - {c}",
    ("sub", "cn"): "{c} - {a}",
    ("mul", "nn"): "{a} * {b}",
    ("mul", "nc"): "{a} * {c}",
    ("mul", "cn"): "{c} * {a}",
    ("div", "nn"): "{a} / {b} if {b} else div({a}, {b})",  # only a zero divisor raises
    ("div", "nc"): "{a} / {c}",  # a non-zero constant (see CONST_OK)
    ("div", "cn"): "(1.0 / {a} if {a} else div(1.0, {a})) * {c}",  # torch: reciprocal(x) * c
    ("neg", "n"): "-{a}",
    ("abs", "n"): "abs({a})",
    ("relu", "n"): "0.0 if {a} < 0.0 else {a}",
    ("tanh", "n"): "tanh({a})",
    ("exp", "n"): "exp({a})",
}

BACKWARD: dict[tuple[str, str], tuple[str, ...]] = {
    ("add", "nn"): ("{g}", "{g}"),
    ("add", "nc"): ("{g}",),
    ("add", "cn"): ("{g}",),
    ("sub", "nn"): ("{g}", "-{g}"),
    ("sub", "nc"): ("{g}",),
    ("sub", "cn"): ("-{g}",),
    ("mul", "nn"): ("{g} * {b}", "{g} * {a}"),
    ("mul", "nc"): ("{g} * {c}",),
    ("mul", "cn"): ("{g} * {c}",),
    ("div", "nn"): ("div({g}, {b})", "-{g} * div(div({a}, {b}), {b})"),
    ("div", "nc"): ("{g} / {c}",),
    ("neg", "n"): ("-{g}",),
    ("abs", "n"): ("{g} * sign({a})",),
    ("relu", "n"): ("0.0 if {out} <= 0.0 else {g}",),
    ("tanh", "n"): ("{g} * ((1.0 - {out}) * (1.0 + {out}))",),
    ("exp", "n"): ("{g} * {out}",),
}

# Templates that hold only for some constants: x / c is a plain ``/`` only for c != 0.
CONST_OK: dict[tuple[str, str], Callable[[float], bool]] = {
    ("div", "nc"): lambda c: c != 0.0,
}


def usable(table: dict[tuple[str, str], Any], name: str, form: str,
           const: float | None = None) -> bool:
    """Whether op ``name`` in ``form`` (with constant ``const``) has a template in ``table``
    (FORWARD or BACKWARD)."""
    key = (name, form)
    if key not in table:
        return False
    ok = CONST_OK.get(key)
    return ok is None or const is None or ok(const)


def literal(x: Any) -> str:
    """Python source for a constant: exact (``repr`` of a float round-trips), signed zeros kept,
    inf and nan by name, negative numbers in parentheses."""
    if x is None:
        return "None"
    x = float(x)
    if x != x:
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "(-inf)"
    text = repr(x)
    return f"({text})" if text.startswith("-") else text
