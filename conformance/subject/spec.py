"""How a fresh interpreter gets the engine under test: a plain description (module:attr, search
path, modules given as source text, or a pickled adapter) that the engine's process loads."""

from __future__ import annotations

import importlib.util
import os
import pickle
import sys
from dataclasses import dataclass

from vetgrad.conformance.subject.adapters import Adapter


@dataclass(frozen=True)
class EngineSpec:
    """How a fresh interpreter gets the engine: ``target`` for load_adapter (``module:attr``),
    after ``path`` is put on sys.path and each ``(module, source, filename)`` of ``sources`` is
    executed as a module of that name; or an adapter object ``pickled``."""

    target: str
    path: tuple[str, ...] = ()
    sources: tuple[tuple[str, str, str], ...] = ()
    pickled: bytes | None = None


def engine_spec(engine: str | type | Adapter | EngineSpec) -> EngineSpec | None:
    """The spec of an engine given as ``module:attr``, a class (importable by its module's name,
    or made from source text that its module keeps in ``__vetgrad_source__``, as the test
    engines' mutants do), or a picklable adapter; None when another process cannot get it."""
    if isinstance(engine, EngineSpec):
        return engine
    path = search_path()
    if isinstance(engine, str) and _is_file_spec(engine):
        return _file_spec(engine, path)
    if isinstance(engine, str):
        name = engine.partition(":")[0]
        return EngineSpec(engine, path, _made_from_source(name))
    if isinstance(engine, type):
        module = sys.modules.get(engine.__module__)
        target = f"{engine.__module__}:{engine.__qualname__}"
        sources = _made_from_source(engine.__module__)
        if sources:
            return EngineSpec(target, path, sources)
        spec = getattr(module, "__spec__", None)
        if spec is not None and spec.origin and "<" not in engine.__qualname__:
            if _importable(engine.__module__):
                return EngineSpec(target, path)
            if spec.origin.endswith(".py") and os.path.isfile(spec.origin):
                # loaded from a file under a name no import finds (spec_from_file_location)
                with open(spec.origin, encoding="utf-8") as fh:
                    return EngineSpec(target, path, ((engine.__module__, fh.read(), spec.origin),))
        return None
    try:
        return EngineSpec("", path, pickled=pickle.dumps(engine))
    except Exception:
        return None


def search_path() -> tuple[str, ...]:
    """This process's sys.path as another process must see it: ``''`` (the current folder, as
    ``python -c`` and a notebook put it) spelled out, where a learner's ``engine.py`` sits."""
    return tuple(dict.fromkeys(p or os.getcwd() for p in sys.path))


def _importable(name: str) -> bool:
    """Whether a fresh interpreter (same sys.path) finds module ``name`` by importing it: looked
    up on the path itself, not in this process's sys.modules (a module made with
    spec_from_file_location under a made-up name is there, and nowhere else)."""
    from importlib.machinery import PathFinder

    parent, _, last = name.rpartition(".")
    try:
        if parent:
            package = sys.modules.get(parent) or importlib.import_module(parent)
            found = PathFinder.find_spec(last, list(getattr(package, "__path__", None) or []))
        else:
            found = PathFinder.find_spec(name, sys.path)
    except (ImportError, ValueError):
        return False
    module = sys.modules.get(name)
    origin = getattr(getattr(module, "__spec__", None), "origin", None)
    return found is not None and (module is None or origin == found.origin)


def _made_from_source(name: str) -> tuple[tuple[str, str, str], ...]:
    """``((name, source, filename),)`` for a module made from source text in this process (it
    keeps it in ``__vetgrad_source__``, as the test mutants do): it travels as that source; ()
    for any other module."""
    module = sys.modules.get(name)
    source = getattr(module, "__vetgrad_source__", None)
    if not isinstance(source, str):
        return ()
    return ((name, source, str(getattr(module, "__file__", "")) or ""),)


USER_PREFIX = "_vetgrad_user_"  # the module name of an engine given by path (path/to/engine.py:Value)


def _is_file_spec(engine: str) -> bool:
    module = engine.rpartition(":")[0]
    return module.endswith(".py") or os.sep in module


def _file_spec(engine: str, path: tuple[str, ...]) -> EngineSpec:
    """``path/to/engine.py:Value``: the file's source travels under a name of its own, so that two
    learners' files of one name (engine.py) never meet in one module cache."""
    from vetgrad.conformance.subject.adapters import EngineLoadError

    file, _, attr = engine.rpartition(":")
    if not attr or not os.path.isfile(file):
        raise EngineLoadError(f"--engine {engine!r}: no such file {file!r} (give path/to/file.py:Value)")
    with open(file, encoding="utf-8") as fh:
        source = fh.read()
    stem = os.path.splitext(os.path.basename(file))[0]
    name = USER_PREFIX + "".join(c if c.isalnum() else "_" for c in stem)
    folder = os.path.dirname(os.path.abspath(file))
    return EngineSpec(f"{name}:{attr}", (folder, *path), ((name, source, os.path.abspath(file)),))
