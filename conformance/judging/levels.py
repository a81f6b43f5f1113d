"""The conformance ladder: which level a finding belongs to, and its cause in words.

``math`` (ordinary inputs and outputs, one backward) < ``robust`` (special values, extremes, deep
graphs, a second backward on the leaves) < ``torch`` (torch's own conventions). A finding belongs
to the lowest level at which it is a failure (the specification: docs/ladder.md); every fact about an op
is read from its row in engine/ops/ (``domain``, ``kink``, ``branch``, ``masks``).

"Ordinary" here: every input and output of the op finite with 1e-6 <= |x| <= 1e6, or exactly 0
where 0 lies inside the op's well-conditioned domain for that operand (an output of 0 only where
the exact value is 0, not an underflow); each local derivative torch gives finite with
1e-8 <= |d| <= 1e8, or 0 where the exact derivative is 0 (tanh'(837) = 0.0 is an underflow);
inside the row's ``ordinary`` region, where every textbook formula of the op in Python floats is
finite and accurate (tanh via exp, sigmoid via 1/(1 + e**-x), a Value exponent on a positive
base); and no kink, tie or branch point of the op (the row's ``kink``, or a ``branch`` that
changes within a relative 1e-7 of the inputs).
"""

from __future__ import annotations

import math
from typing import Any, Sequence

from vetgrad.conformance.subject.execute import CRASH, LOST
from vetgrad.engine.ops import OPS, Op

# How a lost engine process reads as a cause: a text of its verdict (conformance.subject.session), the
# cause, first match wins.
LOST_CAUSES = (
    ("no answer within", "hangs (no answer within --graph-timeout)"),
    ("killed by", "its process was killed by a signal (a crash in C code?)"),
    ("exited with status", "its process exited (sys.exit or os._exit in an op?)"),
    ("raised KeyboardInterrupt", "raises KeyboardInterrupt"),
    ("broke the protocol", "its process broke the harness's protocol"),
    ("broke the interpreter's rules", "breaks the interpreter's rules (C code returned a result "
                                      "with an exception set, or NULL without one)"),
)

LEVELS = ("math", "robust", "torch")
MATH, ROBUST, TORCH = LEVELS

LOW, HIGH = 1e-6, 1e6                # ordinary magnitudes of inputs and outputs
DERIV_LOW, DERIV_HIGH = 1e-8, 1e8    # ordinary magnitudes of local derivatives
_NUDGE = 1e-7                        # how far a branch point is felt, relative


def rank(level: str) -> int:
    return LEVELS.index(level)


def at_or_below(level: str, chosen: str) -> bool:
    return rank(level) <= rank(chosen)


def ordinary_number(x: Any, low: float = LOW, high: float = HIGH) -> bool:
    if type(x) is not float:
        try:
            x = float(x)
        except (TypeError, ValueError, OverflowError):
            return False
    return x == 0.0 or (math.isfinite(x) and low <= abs(x) <= high)


def _call_fact(fact: Any, inputs: Sequence[float], params: tuple[Any, ...]) -> Any:
    try:
        return fact(*inputs, *params)
    except TypeError:
        return fact(*inputs)


def on_kink(op: Op, inputs: Sequence[float], params: tuple[Any, ...] = ()) -> bool:
    """Whether the inputs sit on a kink, tie or branch point of the op (from its row)."""
    try:
        if op.kink is not None and _call_fact(op.kink, inputs, params):
            return True
        if op.branch is None:
            return False
        here = _call_fact(op.branch, inputs, params)
        for pos in range(len(inputs)):
            for sign in (1.0, -1.0):
                moved = list(inputs)
                x = moved[pos]
                moved[pos] = x + sign * max(abs(x) * _NUDGE, 1e-300)
                if _call_fact(op.branch, moved, params) != here:
                    return True
    except (ArithmeticError, ValueError, TypeError):
        return True
    return False


def ordinary_inputs(op: Op, inputs: Sequence[float], params: tuple[Any, ...] = (),
                    form: str | None = None) -> bool:
    """Inputs of moderate size, inside the row's ``ordinary`` region for ``form`` (None: every
    operand a Value), off the op's kinks."""
    for pos, x in enumerate(inputs):
        if not ordinary_number(x):
            return False
        if x == 0.0:
            lo, hi = op.domain[min(pos, len(op.domain) - 1)]
            if not lo < 0.0 < hi:
                return False
    if op.ordinary is not None:
        try:
            if not op.ordinary(form or "n" * op.arity, *inputs, *params):
                return False
        except (ArithmeticError, ValueError, TypeError):
            return False
    return not on_kink(op, inputs, params)


def ordinary_case(op_name: str, inputs: Sequence[float], params: tuple[Any, ...], value: Any,
                  derivs: Sequence[float] | None = None, form: str | None = None) -> bool:
    """Whether one op application is ordinary: inputs, torch's value and local derivatives.
    ``form``: the operand form (``"nc"``: a plain number on the right); None, every operand a
    Value."""
    op = OPS[op_name]
    if not ordinary_inputs(op, inputs, params, form) or not ordinary_number(value):
        return False
    if value == 0.0 and not _exactly_zero(op_name, inputs, params):
        return False  # an underflow (sigmoid(-1000) = 0), not an exact 0
    derivs = derivs or ()
    # nan: a constant operand, which has no derivative
    if not all(d != d or ordinary_number(d, DERIV_LOW, DERIV_HIGH) for d in derivs):
        return False
    return 0.0 not in derivs or _zero_derivatives_exact(op_name, inputs, params, value, derivs)


def _exactly_zero(op_name: str, inputs: Sequence[float], params: tuple[Any, ...]) -> bool:
    from vetgrad.conformance.reference.exact import exact_value

    try:
        exact = exact_value(op_name, tuple(float(x) for x in inputs), params)
    except Exception:
        return False
    return exact is not None and exact[0] == 0


def _zero_derivatives_exact(op_name: str, inputs: Sequence[float], params: tuple[Any, ...],
                            value: Any, derivs: Sequence[float]) -> bool:
    """Whether every derivative torch gives as 0 is exactly 0 (relu'(-1), a constant factor 0),
    not an underflow or a cancellation (tanh'(837), sigmoid'(59): the exact value is tiny)."""
    from vetgrad.conformance.reference.exact import exact_derivatives

    try:
        exact = exact_derivatives(op_name, tuple(float(x) for x in inputs), float(value), params)
    except Exception:
        return False
    if exact is None or len(exact) < len(derivs):
        return False
    return all(d != 0.0 or exact[pos][0] == 0 for pos, d in enumerate(derivs))


def _what(x: Any) -> str:
    if isinstance(x, (tuple, list)):
        x = next((v for v in x if not math.isfinite(v)), x[0] if x else 0.0)
    try:
        x = float(x)
    except (TypeError, ValueError):
        return "a number"
    if x != x:
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return "a number"


LOST_CONTRIBUTION = "a contribution lost, doubled or sent to the wrong node"
RECURSION_DEEP = "RecursionError on a deep graph (a recursive topological sort)"
RECURSION_SHALLOW = "RecursionError on a shallow graph (infinite recursion: a method that calls itself?)"
SHALLOW_DEPTH = 100  # a graph this deep is far below Python's recursion limit, whatever the engine


def graph_depth(nodes: Sequence[Any]) -> int:
    """The longest path from a leaf to the last node, in ops (a leaf alone: 0)."""
    depth: list[int] = []
    for n in nodes:
        parents = [depth[a] for a in n.args if isinstance(a, int)]
        depth.append(1 + max(parents) if parents else 0)
    return depth[-1] if depth else 0


def exception_cause(error: str, torch_result: Any, deep: bool = False) -> str:
    """'raises ZeroDivisionError where torch gives inf' from an error text 'Type: message'; for
    the engine's process lost (engine_run.LOST), how it was lost. ``deep``: whether the graph is
    deep enough for a recursive graph walk to reach Python's recursion limit."""
    if error.startswith(LOST):
        lost = error[len(LOST):]
        for text, cause in LOST_CAUSES:
            if text in lost:
                return cause
        return "the engine's process was lost"
    head = error.removeprefix(CRASH).split(":", 1)[0].split(" (")[0].strip() or "an exception"
    if "complex" in error:
        return "returned a complex value"
    if head == "WrongResultError":
        return "returned something that is not a node"
    if head == "RecursionError":
        return RECURSION_DEEP if deep else RECURSION_SHALLOW
    what = _what(torch_result)
    return f"raises {head} where torch gives {'a number' if what == 'a number' else 'inf or nan'}"


def _both_zero(a: Any, b: Any) -> bool:
    return a == 0.0 and b == 0.0


def local_level(op_name: str, params: tuple[Any, ...], inputs: Sequence[float], kind: str,
                mine: tuple, theirs: tuple, form: str | None = None) -> tuple[str, str]:
    """(level, cause) of a local finding at one op on the engine's own inputs. ``mine`` is
    (value, grads or None, error), ``theirs`` torch's (value, grads); ``form`` the operand form."""
    op = OPS[op_name]
    value, grads, error = mine
    t_value, t_grads = theirs
    ordinary = ordinary_case(op_name, inputs, params, t_value, t_grads, form)
    if kind == "raises":
        return TORCH, f"backward through {op_name} returns a gradient where torch raises (torch convention)"
    if kind == "crash":
        return (MATH if ordinary else ROBUST), exception_cause(error or "", t_grads)
    if kind == "local-value":
        if _both_zero(value, t_value):
            return TORCH, "the sign of a zero value (torch convention)"
        return (MATH, "wrong value") if ordinary else (ROBUST, "a different value at special inputs")
    pos = next((k for k, (g, t) in enumerate(zip(grads or (), t_grads))
                if t == t and not (g == t and math.copysign(1, g) == math.copysign(1, t))), 0)
    g, t = (grads or (math.nan,) * (pos + 1))[pos], t_grads[pos]
    if _both_zero(g, t):
        return TORCH, "the sign of a zero gradient (torch convention)"
    if on_kink(op, inputs, params):
        return TORCH, "a different subgradient at a kink or tie (torch convention)"
    if op.branch is not None and any(x != x for x in inputs):
        return TORCH, "a different piece chosen at a nan input (torch convention)"
    if g != g and t == 0.0 and pos in op.masks:
        return TORCH, "0 × nan = nan where torch masks (torch convention)"
    if ordinary:
        if g == 0.0 and t != 0.0:
            names = ["a", "b"][: op.arity]
            who = names[pos] if len(inputs) == op.arity else "x"
            return MATH, f"{who} gets no gradient in {op.spell(names) if op.public else op_name}"
        return MATH, "wrong derivative"
    return ROBUST, "a different derivative at special inputs"
