"""Source templates of the batched replay (:mod:`engine.batched`): numpy code for one node of
the trace over a whole column of rows (``v3 = v1 * v2``, ``g1 = g3 * v2``, ``where(...)`` for
branches).

Keys are op names (and ``(name, "cn")`` where a constant on the left is another formula, as
``c / x`` is torch's ``reciprocal(x) * c``). Placeholders: ``{a}`` and ``{b}`` the op's operands
in its own order (a column's name or, for ``x * 2.0`` or ``2.0 - x``, the constant's literal),
``{p0}`` and ``{p1}`` its parameters, ``{out}`` the node's value and ``{g}`` its gradient. A
backward entry is a tuple with one expression per operand, or one expression that gives the
pair (a helper of :mod:`engine.batch_kernels`). The names are those of
:data:`engine.batch_kernels.NAMESPACE`; this module needs no numpy.

Every template is exact: IEEE arithmetic (``+ - * /``, sqrt, fmod, floor, comparisons,
``where``) rounds as Python's floats do, so each template is its row bit for bit
(tests/test_batched.py holds them to the rows on an edge grid). Transcendental functions (exp,
log, tanh, sin, ...) are not numpy's kernels, which differ from C's libm by up to 3 ulps (numpy
2.4, AVX-512): an op without a forward template calls its row's float function on every element
(``map1(fwd_tanh, v3)``, 0.06-0.5 µs per element: ``python -m vetgrad.benchmarks.compiled --ops``);
only its derivative's arithmetic is vectorised. An op with no backward template (torch's
backward ops) calls its row's VJP per element.
"""

from __future__ import annotations

FORWARD: dict[str | tuple[str, str], str] = {
    "add": "{a} + {b}",
    "sub": "{a} - {b}",
    "mul": "{a} * {b}",
    "div": "div({a}, {b})",
    ("div", "cn"): "div(1.0, {b}) * {a}",  # torch: reciprocal(x) * c
    "neg": "-{a}",
    "abs": "abs({a})",
    "relu": "relu({a})",
    "leaky_relu": "where({a} > 0.0, {a}, {a} * {p0})",
    "maximum": "maximum({a}, {b})",
    "minimum": "minimum({a}, {b})",
    "clamp": "clamp({a}, {p0}, {p1})",
    "sqrt": "sqrt({a})",
    "pow_scalar": "pow_scalar({a}, {p0})",
    "mod": "remainder({a}, {b})",
    "floordiv": "floor_divide({a}, {b})",
    "div_floor": "floor_divide({a}, {b})",
    "sgn": "sgn({a})",
}

BACKWARD: dict[str | tuple[str, str], tuple[str, ...] | str] = {
    "add": ("{g}", "{g}"),
    "sub": ("{g}", "-{g}"),
    "mul": ("{g} * {b}", "{g} * {a}"),
    "div": ("div({g}, {b})", "-{g} * div(div({a}, {b}), {b})"),
    ("div", "cn"): ("0.0", "-({g} * {a}) * (div(1.0, {b}) * div(1.0, {b}))"),
    "neg": ("-{g}",),
    "abs": ("{g} * sgn({a})",),
    "relu": ("where({out} <= 0.0, 0.0, {g})",),
    "leaky_relu": ("where({a} > 0.0, {g}, {g} * {p0})",),
    "maximum": "maximum_grad({g}, {a}, {b})",
    "minimum": "minimum_grad({g}, {a}, {b})",
    "clamp": ("clamp_grad({g}, {a}, {p0}, {p1})",),
    "sqrt": ("div({g}, 2.0 * {out})",),
    "pow_scalar": ("pow_scalar_grad({g}, {a}, {p0})",),
    "pow": "pow_grad({g}, {a}, {b}, {out})",
    "mod": ("{g}", "-{g} * floor_divide({a}, {b})"),
    "exp": ("{g} * {out}",),
    "log": ("div({g}, {a})",),
    "sin": ("{g} * exact_cos({a})",),
    "cos": ("{g} * -exact_sin({a})",),
    "tanh": ("{g} * ((1.0 - {out}) * (1.0 + {out}))",),
    "sigmoid": ("{g} * (1.0 - {out}) * {out}",),
    "softplus": ("softplus_grad({g}, {a})",),
    "log1p": ("div({g}, {a} + 1.0)",),
    "expm1": ("{g} * ({out} + 1.0)",),
    "atan": ("div({g}, {a} * {a} + 1.0)",),
    "atan2": "atan2_grad({g}, {a}, {b})",
    "sgn": ("0.0",),
    "div_floor": ("0.0", "0.0"),
}


def template(table: dict[str | tuple[str, str], object], name: str, form: str) -> object | None:
    """The entry of op ``name`` in ``form`` (``"cn"``'s own where it has one), or None."""
    if form == "cn" and (name, "cn") in table:
        return table[(name, "cn")]
    return table.get(name)
