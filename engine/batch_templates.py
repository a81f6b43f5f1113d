"""Source templates of the batched replay (:mod:`engine.batched`): numpy code for one node of
the trace over a whole column of rows (``v3 = v1 * v2``, ``g1 = g3 * v2``, ``where(...)`` for
branches).

Each row declares its own (``Op.numpy``, ``Op.numpy_reflected``, in its block in engine/ops/);
this module gathers them. Keys are op names (and ``(name, "cn")`` where a constant on the left is another formula, as
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

from vetgrad.engine.ops import OPS


def _gather(part: int) -> dict[str | tuple[str, str], object]:
    """The rows' numpy templates (part 0: forwards, 1: backwards) by op name, and by
    ``(name, "cn")`` where ``c op x`` has its own (``Op.numpy_reflected``)."""
    table: dict[str | tuple[str, str], object] = {}
    for op in OPS.values():
        for key, pair in ((op.name, op.numpy), ((op.name, "cn"), op.numpy_reflected)):
            if pair is not None and pair[part] is not None:
                table[key] = pair[part]
    return table


FORWARD: dict[str | tuple[str, str], str] = _gather(0)  # type: ignore[assignment]
BACKWARD: dict[str | tuple[str, str], tuple[str, ...] | str] = _gather(1)  # type: ignore[assignment]


def template(table: dict[str | tuple[str, str], object], name: str, form: str) -> object | None:
    """The entry of op ``name`` in ``form`` (``"cn"``'s own where it has one), or None."""
    if form == "cn" and (name, "cn") in table:
        return table[(name, "cn")]
    return table.get(name)
