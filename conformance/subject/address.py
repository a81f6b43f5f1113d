"""What a reproducer imports to run the engine: a Value class or an Adapter, by ``module:attr``,
and whether that module was made from source text (then no import finds it)."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

from vetgrad.conformance.subject.adapters import MICROGRAD, Adapter, NodeSpelling, ValueClassAdapter


@dataclass(frozen=True)
class EngineRef:
    """``kind`` is ``"value"`` (a micrograd-style class, built with operators) or ``"adapter"``
    (built through ``leaf``/``apply``); ``target`` is ``module:attr``; ``source`` says the module
    was made from source text in the harness (as the tests' mutants are); ``file``: the file it
    was read from when the engine was given by path (``path/to/engine.py:Value``), which a
    reproducer loads by that path; ``spelling``: how a Value class names a node's number and its
    backward pass (``.val``, ``.back_prop()``), which a reproducer writes."""

    kind: str
    target: str
    source: bool = False
    file: str = ""
    spelling: NodeSpelling = MICROGRAD


def adapter_ref(adapter: Adapter) -> tuple[str, str, dict[str, str | None] | None]:
    """``(kind, module:attr, spelling)`` of a loaded adapter: the Value class it wraps and how it
    spells its nodes (NodeSpelling.to_json), or its own class and None (also a subclass of
    ValueClassAdapter's: it may change what the class does). Builtins only (it crosses from the
    engine's process)."""
    if type(adapter) is ValueClassAdapter:
        cls: Any = adapter.cls
        return "value", f"{cls.__module__}:{cls.__qualname__}", adapter.node_spelling.to_json()
    cls = type(adapter)
    return "adapter", f"{cls.__module__}:{cls.__qualname__}", None


def spelling_of(ref: EngineRef | None) -> dict[str, str | None] | None:
    """What a report records of how the engine spells its nodes: a Value class's names
    (NodeSpelling.to_json), None for an Adapter or an engine not loaded."""
    return ref.spelling.to_json() if ref is not None and ref.kind == "value" else None


def from_source(module: str) -> bool:
    """Whether module ``module`` of this process was made from source text (``__vetgrad_source__``)."""
    return isinstance(getattr(sys.modules.get(module), "__vetgrad_source__", None), str)


def local_ref(adapter: Adapter) -> EngineRef:
    """The reference of an adapter loaded in this process."""
    kind, target, spelled = adapter_ref(adapter)
    return EngineRef(kind, target, from_source(target.partition(":")[0]),
                     spelling=NodeSpelling.from_json(spelled) if spelled is not None else MICROGRAD)


def as_ref(engine: EngineRef | str) -> EngineRef:
    """An EngineRef as it is; a ``module:attr`` string names a Value class."""
    if isinstance(engine, EngineRef):
        return engine
    return EngineRef("value", engine, from_source(engine.partition(":")[0]))
