"""The op table: every primitive op of vetgrad, declared once.

Each op is one block in its family's module: its IEEE-safe float forward, its vector-Jacobian
product (VJP) rule, for the hot ops its backward step written out by hand, the facts the
conformance harness reads (domain, special values, kinks, masks, ordinary region, exact rule,
samplers), its replay templates, and its row (:class:`Op`, in :mod:`engine.ops.row`):

- :mod:`engine.ops.arithmetic`: ``+ - * /``, negation, powers, ``//`` and ``%``;
- :mod:`engine.ops.piecewise`: maximum, minimum, abs, relu, leaky_relu, clamp;
- :mod:`engine.ops.smooth`: exp, log, sqrt, sin, cos, tanh, sigmoid, softplus, log1p, expm1,
  atan, atan2;
- :mod:`engine.ops.derivatives`: torch's derivative formulas (tanh_backward, ...) as ops, which
  the rules call so that a gradient keeps torch's graph under ``create_graph``.

Everything else reads the rows: ``Value``'s operators and methods, ``backward()``, the replay
templates (:mod:`engine.templates`, :mod:`engine.batch_templates`), the docs
(``python -m vetgrad.engine.ops``) and the conformance harness. Where a hot op's arithmetic is
written out again for speed, :data:`engine.inlined.COPIES` lists the copy and the tests hold it
bit-identical to the row. Adding an op: one block in a family module and its name in ``_OPS``.
"""

from __future__ import annotations

from vetgrad.engine.ops.arithmetic import ADD, DIV, FLOORDIV, MOD, MUL, NEG, POW, POW_SCALAR, SUB
from vetgrad.engine.ops.derivatives import (
    BACKWARD_OPS,
    DIV_FLOOR,
    LEAKY_RELU_BACKWARD,
    RELU_BACKWARD,
    SGN,
    SIGMOID_BACKWARD,
    SOFTPLUS_BACKWARD,
    TANH_BACKWARD,
)
from vetgrad.engine.ops.piecewise import ABS, CLAMP, LEAKY_RELU, MAXIMUM, MINIMUM, RELU
from vetgrad.engine.ops.row import (
    ANY,
    FLOAT,
    INFIX,
    POSITIVE,
    TABLE,
    BoundOp,
    ConstOp,
    FloatMath,
    HandBuiltOp,
    Op,
    paren,
)
from vetgrad.engine.ops.row import _const_back as _const_back  # the steps a rule gives (tests)
from vetgrad.engine.ops.row import _float_back as _float_back
from vetgrad.engine.ops.row import _table_bound_op as _table_bound_op  # older pickles' names
from vetgrad.engine.ops.row import _table_const_op as _table_const_op
from vetgrad.engine.ops.row import _table_op as _table_op
from vetgrad.engine.ops.smooth import (
    ATAN,
    ATAN2,
    COS,
    EXP,
    EXPM1,
    LOG,
    LOG1P,
    SIGMOID,
    SIN,
    SOFTPLUS,
    SQRT,
    TANH,
)

__all__ = [
    "ANY", "BACKWARD_OPS", "BY_SYMBOL", "DIV_FLOOR", "FLOAT", "INFIX", "LEAKY_RELU_BACKWARD", "OPS",
    "POSITIVE", "RELU_BACKWARD", "SGN", "SIGMOID_BACKWARD", "SOFTPLUS_BACKWARD", "TANH_BACKWARD",
    "BoundOp", "ConstOp", "FloatMath", "HandBuiltOp", "Op", "markdown_table", "paren", "public_ops",
]
# The table's order is the docs' and the conformance generator's (same seed, same graphs).
_OPS: tuple[Op, ...] = (
    ADD, SUB, MUL, DIV, POW, POW_SCALAR, MAXIMUM, MINIMUM, FLOORDIV, MOD, NEG, ABS, EXP, LOG, SQRT,
    SIN, COS, TANH, SIGMOID, RELU, LEAKY_RELU, SOFTPLUS, CLAMP, LOG1P, EXPM1, ATAN, ATAN2,
)

TABLE.update((op.name, op) for op in (*_OPS, *BACKWARD_OPS))
OPS: dict[str, Op] = TABLE
"""Every primitive op by name."""

BY_SYMBOL: dict[str, Op] = {op.symbol: op for op in _OPS if op.name != "pow_scalar"}
"""Ops by their ``_op`` label, for nodes a user builds by hand (``Value(x, (a, b), '+')``)."""


def public_ops() -> list[Op]:
    """The ops a user calls directly (what the conformance harness tests)."""
    return [op for op in _OPS if op.public]


def markdown_table() -> str:
    """The op table as Markdown, for the docs."""
    rows = ["| op | arity | how to call | torch | differentiable | notes |", "|---|---|---|---|---|---|"]
    for op in public_ops():
        how = op.spell(["a", "b"][:op.arity], [f"{n}={d}" for n, d in op.params])
        rows.append(f"| `{op.name}` | {op.arity} | `{how}` | `{op.torch_name}` | "
                    f"{'yes' if op.differentiable else 'no (raises)'} | {op.doc} |")
    return "\n".join(rows)
