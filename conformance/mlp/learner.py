"""The learner's code, loaded and called in this process: a model class or step function given as
an object or a spec (``module:MLP``, ``path/to/mlp.py:MLP``), each call guarded (an exception is
a :class:`LearnerError` to report, never the harness's crash; what it prints is kept, not shown;
a call past its deadline is stopped where SIGALRM can stop it), and their Values' numbers read
with the spellings learners use (``.data``, ``.val``, ``.value``)."""

from __future__ import annotations

import contextlib
import importlib
import io
import linecache
import os
import random
import signal
import sys
import threading
import traceback
import types
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from vetgrad.conformance.subject.spec import USER_PREFIX

DEADLINE = 30.0  # seconds one call of the learner's code may take (main thread only)
VALUE_NAMES = ("data", "val", "value")


class UsageError(Exception):
    """The model or step cannot be loaded (exit status 2)."""


class LearnerError(Exception):
    """The learner's code raised (or ran past its deadline): ``what`` was being done, the
    exception as ``TypeError: ...`` and where in their code (``mlp.py, line 12``)."""

    def __init__(self, what: str, exc: BaseException, where: str) -> None:
        self.what, self.exc, self.where = what, exc, where
        self.text = f"{type(exc).__name__}: {exc}"
        super().__init__(f"{what} raises {self.text}{f' ({where})' if where else ''}")


class DeadlineError(Exception):
    """The learner's call ran past its deadline."""


@dataclass(frozen=True)
class Loaded:
    """A learner's object, and how a reproducer gets it again: ``file`` (its source file, put on
    sys.path's folder) or ``module`` (importable by name), or ``source`` (made from text)."""

    obj: Any
    name: str          # as shown: the spec, or module:qualname
    attr: str
    file: str | None = None
    module: str | None = None
    source: str | None = None


def load(spec: Any, what: str = "model") -> Loaded:
    """``spec``: a class or function, ``module:attr`` or ``path/to/file.py:attr`` (loaded under a
    name of its own, its folder put on sys.path so its ``from engine import Value`` works)."""
    if not isinstance(spec, str):
        return _describe(spec)
    target, _, attr = spec.rpartition(":")
    if not target or not attr:
        raise UsageError(f"--{what} must look like module:{_default(what)} or "
                         f"path/to/file.py:{_default(what)}, got {spec!r}")
    if target.endswith(".py") or os.sep in target or "/" in target:
        return _load_file(spec, target, attr, what)
    try:
        module = importlib.import_module(target)
    except Exception as exc:
        raise UsageError(f"--{what} {spec}: cannot import {target!r}: {type(exc).__name__}: {exc}") from exc
    obj = _attr(module, attr, spec, what)
    return Loaded(obj, spec, attr, module=target, file=getattr(module, "__file__", None),
                  source=_source_of(module))


def _default(what: str) -> str:
    return "MLP" if what == "model" else "step"


def _attr(module: Any, attr: str, spec: str, what: str) -> Any:
    obj = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise UsageError(f"--{what} {spec}: {module.__name__} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise UsageError(f"--{what} {spec}: {attr} is not callable")
    return obj


def _load_file(spec: str, file: str, attr: str, what: str) -> Loaded:
    if not os.path.isfile(file):
        raise UsageError(f"--{what} {spec}: no such file {file!r} (give path/to/file.py:{attr})")
    path = os.path.abspath(file)
    with open(path, encoding="utf-8") as fh:
        source = fh.read()
    stem = os.path.splitext(os.path.basename(path))[0]
    name = USER_PREFIX + "".join(c if c.isalnum() else "_" for c in stem)
    module = types.ModuleType(name)
    module.__file__ = path
    folder = os.path.dirname(path)
    if folder not in sys.path:
        sys.path.insert(0, folder)  # their own imports (from engine import Value) from there
    try:
        code = compile(source, path, "exec")
        sys.modules[name] = module
        exec(code, module.__dict__)
    except Exception as exc:
        sys.modules.pop(name, None)
        where = _where(exc)
        raise UsageError(f"--{what} {spec}: loading {os.path.basename(path)} raises "
                         f"{type(exc).__name__}: {exc}{f' ({where})' if where else ''}") from exc
    return Loaded(_attr(module, attr, spec, what), spec, attr, file=path)


def _describe(obj: Any) -> Loaded:
    if not callable(obj):
        raise UsageError(f"expected a class, a function or a spec, got {type(obj).__name__}")
    module = sys.modules.get(getattr(obj, "__module__", "") or "")
    qual = getattr(obj, "__qualname__", getattr(obj, "__name__", "model"))
    name = f"{getattr(obj, '__module__', '?')}:{qual}"
    return Loaded(obj, name, qual, file=getattr(module, "__file__", None),
                  module=getattr(obj, "__module__", None), source=_source_of(module))


def _source_of(module: Any) -> str | None:
    source = getattr(module, "__vetgrad_source__", None)
    return source if isinstance(source, str) else None


# -- calling their code -------------------------------------------------------------------------

def _where(exc: BaseException) -> str:
    """The innermost frame of the learner's code (not the harness's, not the stdlib's)."""
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    found = ""
    for frame in traceback.extract_tb(exc.__traceback__):
        name = os.path.abspath(frame.filename) if not frame.filename.startswith("<") else frame.filename
        if name.startswith(here) or "importlib" in name:
            continue
        found = f"{os.path.basename(frame.filename)}, line {frame.lineno}"
        line = frame.line or linecache.getline(frame.filename, frame.lineno or 0).strip()
        if line:
            found += f": {line}"
    return found


@contextlib.contextmanager
def _deadline(seconds: float) -> Iterator[None]:
    if seconds <= 0 or threading.current_thread() is not threading.main_thread() \
            or not hasattr(signal, "setitimer"):
        yield
        return

    def expire(signum: int, frame: Any) -> None:
        raise DeadlineError(f"no answer within {seconds:g} s (a hang? stopped in this process)")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def call(what: str, fn: Callable[..., Any], *args: Any, deadline: float | None = None) -> Any:
    """``fn(*args)``, its output kept from the terminal; any exception (SystemExit too) raised
    as a LearnerError naming ``what``; past ``deadline`` seconds (default DEADLINE) stopped."""
    out = io.StringIO()
    try:
        with _deadline(DEADLINE if deadline is None else deadline), contextlib.redirect_stdout(out):
            return fn(*args)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:
        raise LearnerError(what, exc, _where(exc)) from exc


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """The global ``random`` seeded (their ``random.uniform(-1, 1)`` weights reproducible), its
    state restored afterwards."""
    state = random.getstate()
    random.seed(seed)
    try:
        yield
    finally:
        random.setstate(state)


# -- their Values -------------------------------------------------------------------------------

def value_name(v: Any) -> str | None:
    """The attribute holding a Value's number (``data``, ``val``, ``value``), or None."""
    for name in VALUE_NAMES:
        x = getattr(v, name, None)
        if isinstance(x, (int, float)) and not isinstance(x, bool):
            return name
    return None


def number(v: Any) -> float:
    """A Value's number (or a plain number's); TypeError for anything else."""
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return float(v)
    name = value_name(v)
    if name is None:
        raise TypeError(f"{type(v).__name__} has no number in .data, .val or .value")
    return float(getattr(v, name))


def grad(v: Any) -> float:
    g = getattr(v, "grad", None)
    if isinstance(g, (int, float)) and not isinstance(g, bool):
        return float(g)
    if g is None:
        raise TypeError(f"{type(v).__name__} has no .grad")
    return number(g)


