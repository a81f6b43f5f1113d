"""Source templates of the hot ops for :mod:`engine.codegen`: the float code a compiled replay
inlines instead of calling the op's row (``v3 = v1 * v2``, ``g1 += g3 * v2``). Each row declares
its own (``Op.code``, in its block in engine/ops/); this module gathers them.

Keys are ``(op name, form)``: ``"nn"`` two nodes, ``"n"`` a unary op, ``"nc"`` a constant on the
right (``x * 2.0``), ``"cn"`` on the left (``2.0 - x``). Placeholders: ``{a}`` and ``{b}`` the
operands' values, ``{c}`` the constant (a literal), ``{out}`` the node's value, ``{g}`` its
gradient. A backward entry holds one expression per operand that gets a gradient (for a constant
form, only the node operand). The templates are the rows' ``forward`` and ``vjp`` written out; tests/test_compile.py holds each bit-identical to its
row on an edge grid (±0, ±inf, nan, subnormals). Any op or form missing here calls its row.
"""

from __future__ import annotations

import math
from typing import Any, Callable

from vetgrad.engine import ieee
from vetgrad.engine.ops import OPS

# Names the templates use, bound in the namespace of the generated code.
NAMESPACE: dict[str, Any] = {"div": ieee.div, "tanh": math.tanh, "exp": ieee.exp,
                             "sign": ieee.sign, "inf": math.inf, "nan": math.nan}

FORWARD: dict[tuple[str, str], str] = {
    (op.name, form): forward for op in OPS.values() for form, (forward, _) in op.code.items()
    if forward is not None}
"""Forward expressions by (op name, form): the rows' ``code`` (engine/ops/)."""

BACKWARD: dict[tuple[str, str], tuple[str, ...]] = {
    (op.name, form): backward for op in OPS.values() for form, (_, backward) in op.code.items()
    if backward is not None}
"""Backward expressions by (op name, form), one per operand that gets a gradient."""

# Templates that hold only for some constants: x / c is a plain ``/`` only for c != 0.
CONST_OK: dict[tuple[str, str], Callable[[float], bool]] = {
    (op.name, "nc"): op.code_const_ok for op in OPS.values() if op.code_const_ok is not None}


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
