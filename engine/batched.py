"""The batched replay of a compiled function: ``g.batch(*columns)`` runs the trace over many rows
at once with numpy, each row what ``g(*row)`` gives, bit for bit.

>>> from vetgrad.engine import compile
>>> g = compile(lambda x, y: (x * y).relu() + y)
>>> values, (dx, dy) = g.batch([1.0, -1.0, 0.0], 2.0)  # a scalar is the same in every row
>>> values.tolist(), dx.tolist(), dy.tolist()
([4.0, 2.0, 2.0], [2.0, 0.0, 0.0], [2.0, 1.0, 1.0])

The code is generated from the same trace, by the same walk as the scalar replay
(:func:`engine.codegen.generate`), from the templates of :mod:`engine.batch_templates`: the same
float operations in the same order, each on a whole column (``g.batch_source`` shows it; it is in
tracebacks too). The branches of ops (relu, abs, max/min ties, clamp, kinks) are ``where()`` on
each row's numbers; numpy's warnings are silenced (``np.errstate``), so a row gives inf or nan
where the eager engine does, never an exception. Transcendental ops (exp, log, tanh, sin, cos,
atan, log1p, expm1, sigmoid, softplus, pow) call their row's float function on every element,
a Python call per element (0.06-0.5 µs): numpy's own kernels differ from the C library's by up
to 3 ulps (tanh, on 1 argument in 5), and this replay is exact. ``g.batch(..., exact=False)``
takes numpy's kernels for those forwards (:data:`engine.batch_kernels.FAST_ULPS` bounds them;
derivatives keep the rows' formulas). numpy is needed only here: without it ``g.batch`` raises
ImportError.
"""

from __future__ import annotations

import numbers
from typing import Any, Sequence

from vetgrad.engine import batch_templates as B  # noqa: N812 - short name for the template table
from vetgrad.engine import templates as T  # noqa: N812
from vetgrad.engine.codegen import Dialect
from vetgrad.engine.ops import Op
from vetgrad.engine.value import Value


def _operands(form: str, a: int, b: Any) -> tuple[str, str | None]:
    """The op's operands, in its own order, as source: columns ``v{k}`` or a constant's literal."""
    if form == "n":
        return f"v{a}", None
    if form == "nn":
        return f"v{a}", f"v{b}"
    c = T.literal(b)
    return (f"v{a}", c) if form == "nc" else (c, f"v{a}")


def _params(ps: tuple[Any, ...]) -> dict[str, str]:
    return {f"p{i}": T.literal(p) for i, p in enumerate(ps)}


def _forward(op: Op, form: str, ps: tuple[Any, ...], a: int, b: Any, env: dict[str, Any]) -> str:
    x, y = _operands(form, a, b)
    template = B.template(B.FORWARD, op.name, form)
    if template is not None:
        return str(template).format(a=x, b=y, **_params(ps))
    extra = "".join(f", {T.literal(p)}" for p in ps)
    if form == "cn" and op.reflected_forward is not None:
        fn, env[f"rfwd_{op.name}"] = f"rfwd_{op.name}", op.reflected_forward
    else:
        fn, env[f"fwd_{op.name}"] = f"fwd_{op.name}", op.forward
    return f"map1({fn}, {x}{extra})" if op.arity == 1 else f"map2({fn}, {x}, {y}{extra})"


def _backward(op: Op, form: str, ps: tuple[Any, ...], k: int, a: int, b: Any,
              env: dict[str, Any], lines: list[str]) -> tuple[str, ...]:
    """The gradient contributions of node ``k`` to its node operands (a statement giving a pair
    is appended to ``lines``)."""
    x, y = _operands(form, a, b)
    template = B.template(B.BACKWARD, op.name, form)
    fill = dict(a=x, b=y, g=f"g{k}", out=f"v{k}", **_params(ps))
    pair = None
    if template is None:  # the row's VJP rule, row by row
        vjp = op.reflected_vjp if form == "cn" and op.reflected_vjp is not None else op.vjp
        fn = f"{'r' if vjp is not op.vjp else ''}vjp_{op.name}"
        env[fn] = vjp
        extra = "".join(f", {T.literal(p)}" for p in ps)
        if op.arity == 1:
            exprs: tuple[str, ...] = (f"vjp1({fn}, g{k}, {x}, v{k}{extra})",)
        else:
            pair = f"vjp2({fn}, g{k}, {x}, {y}, v{k}{extra})"
    elif isinstance(template, str):
        pair = template.format(**fill)
    else:
        exprs = tuple(e.format(**fill) for e in template)  # type: ignore[attr-defined]
    if pair is not None:
        lines.append(f"    t{k}a, t{k}b = {pair}")
        exprs = (f"t{k}a", f"t{k}b")
    if form == "nc":
        return exprs[:1]
    if form == "cn":
        return exprs[1:]
    return exprs


BATCH = Dialect(_forward, _backward, "{t} = {t} + {e}", "f64({c})", {})
"""numpy columns: the batched replay's code (its names: :data:`engine.batch_kernels.NAMESPACE`)."""


def fast_source(source: str, names: Sequence[str]) -> str:
    """The batched code with numpy's kernels for the forwards of ops ``names``: each
    ``map1(fwd_tanh, x)`` (the row's function per element) becomes ``fast_tanh(x)``. Derivatives
    are untouched: they stay the rows' formulas, on the values the kernels gave."""
    for name in names:
        for mapped in (f"map1(fwd_{name}, ", f"map2(fwd_{name}, "):
            source = source.replace(mapped, f"fast_{name}(")
    return source


def numpy() -> Any:
    """The numpy module, or ImportError saying what to install."""
    try:
        import numpy as np
    except ImportError:
        from vetgrad._extras import install_hint

        raise ImportError("the batched replay (Compiled.batch) needs numpy, which is not installed: "
                          + install_hint(packages=["numpy"])) from None
    return np


def namespace() -> dict[str, Any]:
    """The names the generated code calls (imports numpy)."""
    from vetgrad.engine import batch_kernels

    return batch_kernels.NAMESPACE


def columns(np: Any, args: Sequence[Any], arity: int | None, name: str) -> tuple[list[Any], int]:
    """The arguments of ``batch`` as float64 columns (1-d arrays, or scalars for a number that is
    the same in every row) and the number of rows; TypeError or ValueError naming the argument
    that is wrong."""
    if arity is not None and len(args) != arity:
        raise TypeError(f"{name}.batch() was compiled for {arity} argument"
                        f"{'s' if arity != 1 else ''}, got {len(args)}")
    out: list[Any] = []
    rows: dict[int, int] = {}
    for i, x in enumerate(args):
        if isinstance(x, numbers.Real) and not isinstance(x, Value):
            out.append(np.float64(x))
            continue
        try:
            column = np.asarray(x)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{name}.batch() argument {i} must be a column of numbers (a 1-d "
                            f"array-like) or a number, got {type(x).__name__}: {exc}") from None
        if column.dtype.kind not in "biuf":
            hint = (" (a batch takes plain numbers: pass .data)" if column.dtype.kind == "O"
                    and any(isinstance(v, Value) for v in column.ravel()) else "")
            raise TypeError(f"{name}.batch() argument {i} must hold real numbers, got an array "
                            f"of dtype {column.dtype}{hint}")
        if column.ndim == 0:  # a number as a 0-d array: the same in every row
            out.append(np.float64(column))
            continue
        if column.ndim != 1:
            raise ValueError(f"{name}.batch() argument {i} must be 1-d (one number per row) or "
                             f"a number, got an array of shape {column.shape}")
        out.append(np.ascontiguousarray(column, dtype=np.float64))
        rows[i] = column.shape[0]
    if len(set(rows.values())) > 1:
        shown = ", ".join(f"argument {i} has {n}" for i, n in rows.items())
        raise ValueError(f"{name}.batch(): ragged columns, every column needs the same number of "
                         f"rows ({shown})")
    return out, next(iter(rows.values()), 1)


def full(np: Any, column: Any, n: int) -> Any:
    """A result as a fresh float64 array of ``n`` rows (a scalar is the same in every row)."""
    return np.array(np.broadcast_to(column, (n,)), dtype=np.float64)
