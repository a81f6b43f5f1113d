"""Faults of the engine as a whole, not of any op: ``backward()``'s own walk raising (``topo`` not
defined, a leaf without ``_backward``), a new Value whose ``.grad`` does not start at 0, a
``backward()`` that does not seed its output with 1. Every op shows such a fault, so without
this module the first op tried would be blamed for it. Runs in the engine's process (it calls the
engine); the harness turns what it says into findings of ``graph``."""

from __future__ import annotations

import types
from typing import Any

from vetgrad.conformance.subject.adapters import node_spelling

# appended to an error text when the exception came from backward()'s own code (its body or a
# function defined inside it), outside every op's rule
IN_BACKWARD = " [raised by backward() itself, outside every op's own rule]"
CAUSE_IN_BACKWARD = "backward() itself raises, whatever the op (a bug in its graph walk)"
CAUSE_FRESH_GRAD = "a new Value's .grad does not start at 0"
CAUSE_NO_SEED = "backward() does not set its output's .grad to 1 before the walk"
CAUSE_NO_WALK = "backward() runs no op's rule: no gradient reaches the leaves"


def _inner_codes(code: types.CodeType) -> set[types.CodeType]:
    """``code`` and every function defined inside it (build_topo in backward)."""
    out = {code}
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            out |= _inner_codes(const)
    return out


def raised_in_backward(exc: BaseException, name: str = "backward") -> bool:
    """Whether ``exc`` was raised by the engine's backward method's own code (``name``: as the
    class spells it, ``back_prop``): the frames from the first one named so down to where it was
    raised all belong to that method or to functions defined inside it (an op's ``_backward``
    closure, or any other function, is not)."""
    frames = []
    tb = exc.__traceback__
    while tb is not None:
        frames.append(tb.tb_frame.f_code)
        tb = tb.tb_next
    start = next((i for i, code in enumerate(frames)
                  if code.co_name == name and "conformance" not in code.co_filename), None)
    if start is None:
        return False
    own = _inner_codes(frames[start])
    return all(code in own for code in frames[start:])


def mark(text: str, exc: BaseException, name: str = "backward") -> str:
    """An error text, marked when backward() (the method called ``name``) itself raised it."""
    try:
        return text + IN_BACKWARD if raised_in_backward(exc, name) else text
    except Exception:
        return text


def check(adapter: Any) -> list[tuple[str, str]]:
    """(cause, message) of each fault of the engine as a whole, tried on fresh leaves: a new
    leaf's ``.grad`` before any backward(), and a leaf's own ``.grad`` after its backward()
    (torch: 1). An exception here is no fault of this kind (the ops' checks will show it)."""
    faults: list[tuple[str, str]] = []
    spelled = node_spelling(adapter)
    backward = f"{spelled.backward}()"
    try:
        x = adapter.leaf(0.5)
        before = adapter.grad(x)
    except Exception:
        return faults
    if before != 0.0:
        faults.append((CAUSE_FRESH_GRAD, f"Value(0.5).grad = {before!r} before any {backward}; "
                                         f"it must start at 0.0 (each {backward} adds to it)"))
        return faults
    try:
        adapter.backward(x)
        seeded = adapter.grad(x)
    except Exception:
        return faults
    if seeded != 1.0:
        faults.append((CAUSE_NO_SEED, f"x = Value(0.5); x.{backward} leaves x.grad = {seeded!r}; "
                                      f"torch gives 1.0 (d x / d x): set the output's .grad to 1.0 "
                                      f"before walking the graph"))
        return faults
    reached = _reached(adapter)
    if len(reached) >= 2 and not any(reached.values()):
        said = " and ".join(f"y = {w} leaves x.grad = 0.0" for w in reached)
        faults.append((CAUSE_NO_WALK, f"x = Value(0.5); {said}, torch 1.0 and 2.0: {backward} sets "
                                      f"y.grad but no op's rule runs (is each node's _backward() "
                                      f"called, in reversed topological order?)"))
    return faults


def _reached(adapter: Any) -> dict[str, bool]:
    """Whether a gradient reaches the leaf through ``x + 1.0`` and ``x * 2.0`` (those the engine
    takes); two different ops that both leave it at 0 say the walk itself never runs a rule."""
    from vetgrad.engine.ops import OPS

    out = {}
    for name, written, c in (("add", "x + 1.0", 1.0), ("mul", "x * 2.0", 2.0)):
        try:
            x = adapter.leaf(0.5)
            y = adapter.apply(OPS[name], [x, c], ())
            adapter.backward(y)
            out[written] = adapter.grad(x) != 0.0
        except Exception:
            continue
    return out
