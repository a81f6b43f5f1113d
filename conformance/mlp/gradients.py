"""Every parameter's ``.grad`` after one ``backward()`` of the lecture's loss, against torch's on
the same weights, judged as the expression harness judges a number (docs/ladder.md, M1), and
the difference said in words (every .grad k times torch's, left at 0, only the biases ...)."""

from __future__ import annotations

from typing import Sequence

from vetgrad.conformance.mlp.layout import REL, Shape, Slot, slot_name, slots, worst


def lecture_loss(preds: Sequence[object], ys: Sequence[Sequence[float]], single: bool) -> object:
    """``sum((yout - ygt)**2 ...)`` in the learner's engine, as a left fold (no ``0 + Value``
    needed): one term per sample (per output of a sample when there are several)."""
    loss = None
    for pred, y in zip(preds, ys):
        terms = [(pred - y[0]) ** 2] if single else [(o - t) ** 2 for o, t in zip(pred, y)]  # type: ignore[operator, attr-defined]
        for term in terms:
            loss = term if loss is None else loss + term
    return loss


def message(shape: Shape, order: str, mine: Sequence[float], ref: Sequence[float]) -> str | None:
    """None when every .grad is within tolerance of torch's, else the difference in words."""
    if worst(mine, ref) <= REL:
        return None
    where: list[Slot] = slots(shape, order)
    scale = max((abs(r) for r in ref), default=0.0)
    bad = [i for i in range(len(ref)) if worst([mine[i]], [ref[i]], scale) > REL]
    first = bad[0]
    head = (f"{slot_name(where[first])}: .grad {mine[first]:.6g} where torch gives {ref[first]:.6g}"
            f" ({len(bad)} of {len(ref)} parameters differ)")
    if all(m == 0.0 for m in mine):
        return f"backward() leaves every parameter's .grad at 0 ({head})"
    ratios = [mine[i] / ref[i] for i in range(len(ref)) if abs(ref[i]) > 1e-3 * scale]
    if ratios and max(ratios) - min(ratios) <= 1e-6 * abs(ratios[0]) and len(bad) == len(ref):
        return f"every .grad is {ratios[0]:.6g} times torch's ({head})"
    if all(where[i][2] < 0 for i in bad):
        return f"only the biases' .grad differ ({head})"
    if all(where[i][2] >= 0 for i in bad) and len(bad) == shape.weights:
        return f"only the weights' .grad differ ({head})"
    return head
