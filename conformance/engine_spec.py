"""How a fresh interpreter gets the engine under test: a plain description (module:attr, search
path, modules given as source text, or a pickled adapter) that the engine's process loads."""

from __future__ import annotations

import pickle
import sys
from dataclasses import dataclass

from conformance.adapters import Adapter


@dataclass(frozen=True)
class EngineSpec:
    """How a fresh interpreter gets the engine: ``target`` for load_adapter (``module:attr``),
    after ``path`` is put on sys.path and each ``(module, source, filename)`` of ``sources`` is
    executed as a module of that name; or an adapter object ``pickled``."""

    target: str
    path: tuple[str, ...] = ()
    sources: tuple[tuple[str, str, str], ...] = ()
    pickled: bytes | None = None


def engine_spec(engine: str | type | Adapter) -> EngineSpec | None:
    """The spec of an engine given as ``module:attr``, a class (importable by its module's name,
    or made from source text that its module keeps in ``__vetgrad_source__``, as the test
    engines' mutants do), or a picklable adapter; None when another process cannot get it."""
    path = tuple(p for p in sys.path if p)
    if isinstance(engine, str):
        return EngineSpec(engine, path)
    if isinstance(engine, type):
        module = sys.modules.get(engine.__module__)
        target = f"{engine.__module__}:{engine.__qualname__}"
        source = getattr(module, "__vetgrad_source__", None)
        if isinstance(source, str):
            return EngineSpec(target, path, ((engine.__module__, source,
                                              str(getattr(module, "__file__", "")) or ""),))
        spec = getattr(module, "__spec__", None)
        if spec is not None and spec.origin and "<" not in engine.__qualname__:
            return EngineSpec(target, path)
        return None
    try:
        return EngineSpec("", path, pickled=pickle.dumps(engine))
    except Exception:
        return None
