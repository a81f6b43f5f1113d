"""The probe: which ops, operand forms and spellings an engine offers. Every spelling an op has in
the op table is tried (``abs(x)`` and ``x.abs()``); a form is supported when one of its spellings
is, and each decision is kept with a short reason (``--show-probe``).

It reads the adapter through its interface only (``leaf``, ``apply``, ``value``, ``backward``,
``offers``, and ``spellings``/``use`` where the adapter has several ways to apply an op)."""

from __future__ import annotations

import ctypes
import operator
from typing import Any, Callable, NamedTuple

from engine.ops import OPS, Op, public_ops

# Operand forms of an op: 'n' unary; 'nn' both nodes, 'nc' constant on the right, 'cn' on the left.
FORMS_BINARY = ("nn", "nc", "cn")
FORM_LEGEND = ("forms: n one operand (x.tanh(), abs(x)) · nn two Values (x * y) · nc a plain number "
               "on the right (x * 2) · cn a plain number on the left (2 * x)")
PROBE_INPUTS = (0.7, 1.3)
SUPPORTED, UNSUPPORTED = "supported", "unsupported"


def operand_forms(op: Op) -> tuple[str, ...]:
    """The forms an op can take: a constant on the left needs an operator (``2 - x``); a method
    (``x.maximum(2)``) only takes it on the right."""
    if op.arity == 1:
        return ("n",)
    return FORMS_BINARY if op.dunder else ("nn", "nc")


def spellings(op: Op, form: str) -> tuple[str, ...]:
    """How a user can write ``op`` in ``form``: ``"operator"`` (``abs(x)``, ``x + y``, ``2 + x``)
    and/or ``"method"`` (``x.abs()``, ``x.maximum(2)``; never with a constant on the left)."""
    out = ["operator"] if op.dunder else []
    if op.method and form != "cn":
        out.append("method")
    return tuple(out)


def spelled_call(op: Op, spelling: str) -> Callable[..., Any]:
    """The op as a function of its operands and parameters, written with ``spelling``."""
    if spelling == "operator":
        return getattr(operator, op.dunder)  # type: ignore[arg-type,no-any-return]
    name = op.method

    def call(a: Any, *rest: Any) -> Any:
        return getattr(a, name)(*rest)  # type: ignore[arg-type]

    return call


def entry_point(op: Op, form: str, spelling: str) -> str:
    """The attribute a Value class needs for ``op`` in ``form`` written with ``spelling``."""
    if spelling == "operator":
        return f"__{'r' if form == 'cn' else ''}{op.dunder}__"
    return str(op.method)


def written(op: Op, form: str, spelling: str) -> str:
    """``abs(x)``, ``x.abs()``, ``2 + x``: the spelling as a user reads it."""
    names = iter(("x", "y"))
    args = [next(names) if f == "n" else "2" for f in form]
    params = [repr(p) for p in (op.sweep_params[0] if op.sweep_params else ())]  # type: ignore[index]
    if spelling == "method":
        return f"{args[0]}.{op.method}({', '.join(args[1:] + params)})"
    return op.spell(args, params)


class Decision(NamedTuple):
    """One probe decision: ``op`` in ``form`` written as ``spelling`` is supported or not, and why."""

    op: str
    form: str
    spelling: str
    decision: str
    why: str


def probe(adapter: Any) -> dict[str, tuple[str, ...]]:
    """Which forms of which ops the engine offers; the decisions go to ``adapter.probe_log``.
    A spelling is unsupported when the engine lacks it or refuses it for its operand types (see
    :func:`refusal`); one that exists but crashes otherwise, returns nan or a non-Value on
    ordinary inputs, or whose backward raises is kept: the campaign reports it as the bug it is.
    The adapter is told (``use``) the first supported spelling of each form."""
    log: list[Decision] = []
    supported: dict[str, tuple[str, ...]] = {}
    for op in public_ops():
        ok = [form for form in operand_forms(op) if _form(adapter, op, form, log)]
        if ok:
            supported[op.name] = tuple(ok)
    adapter.probe_log = log
    return supported


def _form(adapter: Any, op: Op, form: str, log: list[Decision]) -> bool:
    """Whether ``op`` in ``form`` is offered in any spelling; the adapter keeps the first."""
    names = adapter.spellings(op, form) if hasattr(adapter, "spellings") else ("apply",)
    chosen = None
    for spelling in names or ("apply",):
        use(adapter, op, form, spelling)
        if not adapter.offers(op, form):
            why = (f"no {entry_point(op, form, spelling)}" if spelling != "apply"
                   else "the adapter does not offer it")
            log.append(Decision(op.name, form, spelling, UNSUPPORTED, why))
            continue
        ok, why = decide(adapter, op, form)
        log.append(Decision(op.name, form, spelling, SUPPORTED if ok else UNSUPPORTED, why))
        if ok and chosen is None:
            chosen = spelling
    if names:
        use(adapter, op, form, chosen or names[0])
    return chosen is not None


def use(adapter: Any, op: Op, form: str, spelling: str) -> None:
    """Tell an adapter with several spellings which one to apply ``op`` in ``form`` with."""
    if spelling != "apply" and hasattr(adapter, "use"):
        adapter.use(op, form, spelling)


def decide(adapter: Any, op: Op, form: str) -> tuple[bool, str]:
    """(offered, why) for ``op`` in ``form`` as the adapter now applies it: False only for a
    refusal, True for a result and for a crash on values (a failure, not an absence)."""
    params = op.sweep_params[0]  # type: ignore[index]
    try:
        leaves = [adapter.leaf(x) for x in PROBE_INPUTS[: form.count("n")]]
        it = iter(leaves)
        args = [next(it) if f == "n" else PROBE_INPUTS[i] for i, f in enumerate(form)]
        out = adapter.apply(op, args, params)
        adapter.value(out)
    except Exception as exc:
        why = refusal(exc, op, form)
        return (False, f"refused: {why}") if why else (True, f"kept: it crashes ({_said(exc)})")
    if op.differentiable:
        try:
            adapter.backward(out)
        except Exception as exc:
            why = refusal(exc, op, form, backward=True)
            if why:
                return False, f"refused in backward(): {why}"
            return True, f"kept: its backward() crashes ({_said(exc)})"
    return True, "ok"


_WORDS = ("not supported", "not implemented", "unsupported")


def refusal(exc: BaseException, op: Op, form: str, backward: bool = False) -> str | None:
    """Why ``exc`` says the engine does not take ``op`` in ``form`` for its operand types (None:
    it is a crash on values). A refusal: NotImplementedError; in the forward an assert, a
    TypeError, a ctypes ArgumentError, an AttributeError for a plain-number operand or for the
    op's own entry point; anywhere a RuntimeError saying 'not supported' or 'not implemented'."""
    said = _said(exc)
    if isinstance(exc, NotImplementedError):
        return said
    if isinstance(exc, RuntimeError) and any(w in str(exc).lower() for w in _WORDS):
        return said
    if backward:
        return None
    if isinstance(exc, (AssertionError, TypeError, ctypes.ArgumentError)):
        return said
    if isinstance(exc, AttributeError):
        if "c" in form:
            return f"{said} (a plain-number operand)"
        names = {op.name, op.method, f"__{op.dunder}__", f"__r{op.dunder}__"} - {None, "__None__"}
        if getattr(exc, "name", None) in names or any(f"'{n}'" in str(exc) for n in names):
            return f"{said} (no entry point for the op)"
    return None


def _said(exc: BaseException) -> str:
    text = str(exc)
    text = text if len(text) <= 120 else text[:117] + "..."
    return f"{type(exc).__name__}{': ' + text if text else ''}"


def format_probe(log: list[Decision]) -> str:
    """The probe's decisions, one line per op, form and spelling."""
    lines = [f"  {FORM_LEGEND}"]
    for op, form, spelling, decision, why in log:
        shown = written(OPS[op], form, spelling) if spelling != "apply" else f"{op} ({form})"
        lines.append(f"  {op:<11} {form:<3} {shown:<20} {decision:<12} {why}")
    return "\n".join(lines)
