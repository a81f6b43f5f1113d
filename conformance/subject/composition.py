"""Which ops an engine builds an op from: ``x - y`` written as ``x + (-y)`` leaves nodes of ``add``
and ``neg`` between the result and its operands. Read in the engine's own process from the
nodes' children and op labels (micrograd's ``_prev`` and ``_op``, or the names the class uses
instead: conformance.subject.adapters.detect_spelling; an engine without them composes nothing), so
that the report puts a composite op's findings after those of the ops it is made of: the bug is
in ``neg``, not in ``sub``."""

from __future__ import annotations

from typing import Any

from vetgrad.conformance.subject.adapters import NodeSpelling, node_spelling
from vetgrad.conformance.subject.probe import PROBE_CASES
from vetgrad.engine.ops import OPS, public_ops

# micrograd's ``_op`` labels and ours (the row's ``symbol``), and spellings learners use
_LABELS = {op.symbol: op.name for op in OPS.values() if op.public}
_LABELS.update({"-": "sub", "/": "div", "neg": "neg", "ReLU": "relu", "relu": "relu"})
MAX_NODES = 50  # a composite op is a handful of nodes; stop walking past this


def op_of_label(label: Any) -> str | None:
    """The op a node's label (``_op``) names (``'**2'`` is pow), or None."""
    if not isinstance(label, str) or not label:
        return None
    if label.startswith("**"):
        return "pow"
    return _LABELS.get(label)


def built_from(adapter: Any, forms: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    """op -> the other ops whose nodes lie between its result and its operands (empty ops left
    out), for each op's first offered form, on fresh leaves. Never raises: an op that cannot be
    read composes nothing."""
    out: dict[str, tuple[str, ...]] = {}
    for op in public_ops():
        offered = forms.get(op.name)
        if not offered:
            continue
        try:
            parts = _parts(adapter, op, offered[0])
        except Exception:
            continue
        if parts:
            out[op.name] = parts
    return out


def _parts(adapter: Any, op: Any, form: str) -> tuple[str, ...]:
    # operand i takes the probe's first case's number i: a leaf of it, or the number (as the probe)
    args = [adapter.leaf(x) if f == "n" else x for f, x in zip(form, PROBE_CASES[0])]
    result = adapter.apply(op, args, op.sweep_params[0])
    inputs = {id(a) for a, f in zip(args, form) if f == "n"}
    spelled = node_spelling(adapter)
    if spelled.label is None:
        return ()
    seen: set[int] = set()
    found: list[str] = []
    stack = [result]  # the result itself may be another op's node: x / y as x * y**-1
    while stack and len(seen) < MAX_NODES:
        node = stack.pop()
        if id(node) in inputs or id(node) in seen:
            continue
        seen.add(id(node))
        name = op_of_label(getattr(node, spelled.label, None))
        if name is not None and name != op.name and name not in found:
            found.append(name)
        stack.extend(_prev(node, spelled))
    return tuple(found)


def _prev(node: Any, spelled: NodeSpelling) -> list[Any]:
    prev = getattr(node, spelled.children, None) if spelled.children is not None else None
    if prev is None or isinstance(prev, (str, bytes)):
        return []
    try:
        return list(prev)[:MAX_NODES]
    except TypeError:
        return []
