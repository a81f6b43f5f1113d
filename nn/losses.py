"""Loss functions on Values, each the float64 counterpart of a torch loss.

Predictions are a Value, a list of Values, or a list of lists of Values (a batch of outputs);
targets are numbers (or Values) of the same shape. ``reduction`` is ``"mean"`` (the default, as in
torch), ``"sum"`` or ``"none"`` (the per-element losses, in the input's shape).
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Iterable, Sequence

from vetgrad.engine import Value

REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(reduction: Any) -> str:
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {', '.join(REDUCTIONS)}, got {reduction!r}")
    return reduction


def _is_scalar(x: Any) -> bool:
    return isinstance(x, Value) or (isinstance(x, numbers.Real) and not isinstance(x, bool))


def _value(x: Any, what: str) -> Value:
    if isinstance(x, Value):
        return x
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(f"{what} must be a Value or a real number, got {type(x).__name__}: {x!r}")
    return Value(float(x))


def _number(x: Any, what: str) -> float | Value:
    if isinstance(x, Value):
        return x
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(f"{what} must be a real number (or Value), got {type(x).__name__}: {x!r}")
    return float(x)


def _is_list(x: Any) -> bool:
    return isinstance(x, Sequence) and not isinstance(x, (str, bytes))


def _require_list(x: Any, message: str) -> None:
    if not _is_list(x):
        raise TypeError(f"{message}, got {type(x).__name__}")


class _Pairs(list):  # type: ignore[type-arg]
    """(prediction, target) pairs, flat, with the input's shape: ``rows[i]`` is the length of
    element i when it is a list, None when it is a single value."""

    rows: list[int | None]


def _pairs(name: str, input: Any, target: Any) -> _Pairs:
    """Flatten ``input`` and ``target`` (a scalar, a list, or a list of lists) into matching
    (prediction, target) pairs, checking that the shapes agree."""
    if _is_scalar(input):
        input, target = [input], [target] if _is_scalar(target) else target
    _require_list(input, f"{name}: input must be a Value or a list of Values")
    if _is_scalar(target):
        raise ValueError(f"{name}: input is a list of {len(input)} but target is one number; give "
                         f"one target per input (torch broadcasts it, with a warning)")
    _require_list(target, f"{name}: target must be a number or a list of numbers")
    if len(input) != len(target):
        raise ValueError(f"{name}: input has {len(input)} elements but target has {len(target)}")
    if not input:
        raise ValueError(f"{name}: input is empty")
    out = _Pairs()
    out.rows = []
    for i, (p, t) in enumerate(zip(input, target)):
        if _is_scalar(p):
            out.append((_value(p, f"{name}: input[{i}]"), _number(t, f"{name}: target[{i}]")))
            out.rows.append(None)
            continue
        if not _is_list(t) or _is_scalar(t):
            raise ValueError(f"{name}: input[{i}] is a list but target[{i}] is not")
        if len(p) != len(t):
            raise ValueError(f"{name}: input[{i}] has {len(p)} elements but target[{i}] "
                             f"has {len(t)}")
        out.extend((_value(pj, f"{name}: input[{i}][{j}]"),
                    _number(tj, f"{name}: target[{i}][{j}]")) for j, (pj, tj) in enumerate(zip(p, t)))
        out.rows.append(len(p))
    if not out:
        raise ValueError(f"{name}: input is empty")
    return out


def _total(terms: list[Value]) -> Value:
    total = terms[0]
    for t in terms[1:]:
        total = total + t
    return total


def _reduce(terms: list[Value], reduction: str, rows: list[int | None] | None = None) -> Any:
    """The mean or sum of ``terms``, or (``"none"``) the terms in the input's shape."""
    if reduction == "none":
        if rows is None or all(r is None for r in rows):
            return terms
        shaped: list[Any] = []
        it = iter(terms)
        for r in rows:
            shaped.append(next(it) if r is None else [next(it) for _ in range(r)])
        return shaped
    total = _total(terms)
    return total / len(terms) if reduction == "mean" else total


def mse_loss(input: Any, target: Any, reduction: str = "mean") -> Value | list[Value]:
    """Squared error ``(input - target)**2``, averaged (``torch.nn.functional.mse_loss``)."""
    _check_reduction(reduction)
    terms = []
    pairs = _pairs("mse_loss", input, target)
    for p, t in pairs:
        d = p - t
        terms.append(d * d)
    return _reduce(terms, reduction, pairs.rows)


def hinge_loss(
    scores: Any, targets: Any, margin: float = 1.0, reduction: str = "mean"
) -> Value | list[Value]:
    """The lecture's max-margin loss ``relu(margin - y * score)`` for labels ``y`` of -1 or +1
    (torch: ``torch.relu(margin - y * score).mean()``)."""
    _check_reduction(reduction)
    margin = _number(margin, "hinge_loss: margin")
    pairs = _pairs("hinge_loss", scores, targets)
    terms = [(margin - y * s).relu() for s, y in pairs]
    return _reduce(terms, reduction, pairs.rows)


def binary_cross_entropy_with_logits(
    logits: Any, targets: Any, reduction: str = "mean"
) -> Value | list[Value]:
    """``-y log sigmoid(x) - (1 - y) log(1 - sigmoid(x))`` from the logit ``x``, computed stably
    (``torch.nn.functional.binary_cross_entropy_with_logits``); targets are in [0, 1]."""
    _check_reduction(reduction)
    terms = []
    pairs = _pairs("binary_cross_entropy_with_logits", logits, targets)
    for x, y in pairs:
        # Both branches are (1 - y) x + log(1 + exp(-x)); each keeps softplus's argument <= 0, so
        # neither hits softplus's linear cut-off at 20 (which would lose up to 2e-9).
        if x.data >= 0.0:
            terms.append((1.0 - y) * x + (-x).softplus())
        else:
            terms.append(x.softplus() - y * x)
    return _reduce(terms, reduction, pairs.rows)


bce_with_logits = binary_cross_entropy_with_logits


def _row(logits: Any, what: str) -> list[Value]:
    _require_list(logits, f"{what} must be a list of Values")
    if not logits:
        raise ValueError(f"{what} is empty")
    return [_value(z, f"{what}[{i}]") for i, z in enumerate(logits)]


def logsumexp(logits: Sequence[Any]) -> Value:
    """``log(sum(exp(z)))``, shifted by the largest logit so that no exp overflows."""
    row = _row(logits, "logsumexp: logits")
    m = max(z.data for z in row)
    if m != m or math.isinf(m):
        m = 0.0  # as torch.logsumexp: an infinite or nan max is not subtracted
    if m == 0.0:
        return _total([z.exp() for z in row]).log()
    shift = Value(m)
    return _total([(z - shift).exp() for z in row]).log() + m


def log_softmax(logits: Sequence[Any]) -> list[Value]:
    """``z - logsumexp(z)`` for each logit of one sample."""
    row = _row(logits, "log_softmax: logits")
    lse = logsumexp(row)
    return [z - lse for z in row]


def softmax(logits: Sequence[Any]) -> list[Value]:
    """Probabilities ``exp(z) / sum(exp(z))`` of one sample (shifted for stability)."""
    return [lp.exp() for lp in log_softmax(logits)]


def cross_entropy(logits: Any, targets: Any, reduction: str = "mean") -> Value | list[Value]:
    """Softmax cross-entropy ``logsumexp(z) - z[target]`` (``torch.nn.functional.cross_entropy``).

    ``logits`` is a batch (a list of rows, one list of class scores per sample) with ``targets``
    a list of class indices, or a single row with an int target."""
    _check_reduction(reduction)
    if isinstance(logits, Sequence) and logits and _is_scalar(logits[0]):
        if isinstance(targets, bool) or not isinstance(targets, numbers.Integral):
            raise TypeError(f"cross_entropy: one row of logits takes one int class index as its "
                            f"target, got {type(targets).__name__}: {targets!r}")
        logits, targets = [logits], [targets]
    _require_list(logits, "cross_entropy: logits must be a list of rows of Values")
    _require_list(targets, "cross_entropy: targets must be a list of class indices")
    if len(logits) != len(targets):
        raise ValueError(f"cross_entropy: {len(logits)} rows of logits but {len(targets)} targets")
    if not logits:
        raise ValueError("cross_entropy: logits is empty")
    terms = []
    for i, (row, t) in enumerate(zip(logits, targets)):
        row = _row(row, f"cross_entropy: logits[{i}]")
        if isinstance(t, bool) or not isinstance(t, numbers.Integral):
            raise TypeError(f"cross_entropy: targets[{i}] must be an int class index, "
                            f"got {type(t).__name__}: {t!r}")
        if not 0 <= t < len(row):
            raise ValueError(f"cross_entropy: targets[{i}] = {t} is out of range for "
                             f"{len(row)} classes")
        terms.append(logsumexp(row) - row[int(t)])
    return _reduce(terms, reduction)


def l2_regularization(parameters: Iterable[Value], alpha: float = 1e-4) -> Value:
    """``alpha * sum(p * p)`` over ``parameters``: the lecture's weight penalty, to add to a loss."""
    params = list(parameters)
    if not params:
        raise ValueError("l2_regularization got no parameters")
    for i, p in enumerate(params):
        if not isinstance(p, Value):
            raise TypeError(f"l2_regularization: parameter {i} is a {type(p).__name__}, "
                            "not a Value")
    alpha = float(_number(alpha, "l2_regularization: alpha"))
    return _total([p * p for p in params]) * alpha
