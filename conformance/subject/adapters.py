"""Adapters: how the harness talks to an engine (make a leaf, apply an op, read value and grad,
run backward). A micrograd-style ``Value`` class is wrapped automatically and the ops it supports
are probed; an engine with other conventions can name an :class:`Adapter` subclass instead.
"""

from __future__ import annotations

import importlib
import operator
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from vetgrad.conformance.dags.graph import BINARY_FORMS
from vetgrad.conformance.errors import EngineLoadError, NothingCheckedError, WrongResultError
from vetgrad.conformance.subject.probe import (
    FORMS_BINARY,
    decide,
    entry_point,
    operand_forms,
    probe,
    spelled_call,
    spellings,
)
from vetgrad.engine.ops import Op

__all__ = ["FORMS_BINARY", "MICROGRAD", "Adapter", "EngineLoadError", "NodeInfo", "NodeSpelling",
           "NothingCheckedError", "ValueClassAdapter", "WrongResultError", "check_adapter",
           "detect_spelling", "load_adapter", "node_spelling", "operand_forms", "precision"]

@dataclass(frozen=True)
class NodeInfo:
    """One node of a graph the engine built, as the harness may read it: the op's name as the op
    table spells it (None for a leaf or where the engine does not say), the operand values in
    order (constant operands included), its value, and which operands are constants rather than
    nodes of the graph."""

    op: str | None
    inputs: tuple[float, ...]
    value: float
    constant: tuple[bool, ...] = ()


class Adapter:
    """The interface an engine offers the harness. Subclass it for an engine whose API is not
    micrograd's; ``--engine module:YourAdapter`` then uses it as it is."""

    name = "engine"
    supports_higher_order = False

    def leaf(self, x: float) -> Any:
        raise NotImplementedError

    def apply(self, op: Op, args: Sequence[Any], params: tuple[Any, ...]) -> Any:
        """Apply ``op``; ``args`` holds engine nodes and plain floats (constants)."""
        raise NotImplementedError

    def value(self, node: Any) -> float:
        raise NotImplementedError

    def grad(self, node: Any) -> float:
        raise NotImplementedError

    def backward(self, root: Any) -> None:
        raise NotImplementedError

    def grad_of(self, output: Any, inputs: Sequence[Any], create_graph: bool) -> list[Any]:
        """Functional gradients (only where ``supports_higher_order``)."""
        raise NotImplementedError

    def derivative_graph(self, node: Any) -> list[NodeInfo]:
        """Every node of the graph that computed ``node`` (a derivative ``grad_of`` built), each
        once, ``node`` included, in any order. The higher-order check reads it to tell rounding,
        overflow and exact mask points from a wrong derivative. ``[]`` means the engine cannot be
        introspected (the default): those explanations are then never assumed. Must not raise."""
        return []

    def forms(self) -> dict[str, tuple[str, ...]]:
        """Which operand forms of which ops the engine supports (probed by default)."""
        return probe(self)

    def offers(self, op: Op, form: str) -> bool:
        """Whether the engine has an entry point for ``op`` in ``form`` at all (the probe then
        tries it); an adapter that lacks an op raises NotImplementedError from ``apply``. An
        adapter with several ways to write an op may also offer ``spellings(op, form)`` and
        ``use(op, form, spelling)``: the probe then tries each and keeps the first that works."""
        return True


# The names a micrograd-style class gives the parts of a node, each list in order of preference:
# micrograd's own first, then the spellings learners use (a notebook's ``val``, ``children``,
# ``back_prop()``). The gradient is ``grad`` in every one of them.
VALUE_NAMES = ("data", "val", "value")
CHILDREN_NAMES = ("_prev", "children", "_children")
LABEL_NAMES = ("_op", "op", "_operation")
BACKWARD_NAMES = ("backward", "back_prop", "backprop")


@dataclass(frozen=True)
class NodeSpelling:
    """Which attributes of a micrograd-style class's nodes hold what: the number (``value``), the
    children (``children``; None: the class has none the harness can read), the op's label
    (``label``; None: none) and the method that runs the backward pass (``backward``). The
    gradient is always ``.grad``. Detected by :func:`detect_spelling`."""

    value: str = "data"
    children: str | None = "_prev"
    label: str | None = "_op"
    backward: str = "backward"

    def said(self) -> str:
        """``value .val, children .children, op label .op, backward .back_prop()``: each part
        spelled otherwise than micrograd spells it ('' for micrograd's own spelling; a part the
        class does not have is not a spelling and is not named)."""
        parts = [(self.value, "data", "value .{}"), (self.children, "_prev", "children .{}"),
                 (self.label, "_op", "op label .{}"), (self.backward, "backward", "backward .{}()")]
        return ", ".join(text.format(name) for name, usual, text in parts if name not in (None, usual))

    def to_json(self) -> dict[str, str | None]:
        """The names as plain JSON values (also what crosses from the engine's process)."""
        return {"value": self.value, "grad": "grad", "children": self.children, "op_label": self.label,
                "backward": self.backward}

    @classmethod
    def from_json(cls, names: Any) -> NodeSpelling:
        """The spelling :meth:`to_json` gave; a name of none of the lists (an answer the engine's
        process forged: it becomes a reproducer's code) is micrograd's."""
        def known(key: str, allowed: tuple[str | None, ...], usual: str | None) -> Any:
            name = names.get(key, usual) if isinstance(names, dict) else usual
            return name if name in allowed else usual

        return cls(known("value", VALUE_NAMES, "data"), known("children", (*CHILDREN_NAMES, None), "_prev"),
                   known("op_label", (*LABEL_NAMES, None), "_op"), known("backward", BACKWARD_NAMES, "backward"))


MICROGRAD = NodeSpelling()


def node_spelling(adapter: Any) -> NodeSpelling:
    """The spelling of the nodes ``adapter`` hands out: a Value class's detected one, else
    micrograd's (an Adapter's nodes may still have ``_prev`` and ``_op``)."""
    spelled = getattr(adapter, "node_spelling", None)
    return spelled if isinstance(spelled, NodeSpelling) else MICROGRAD


def detect_spelling(cls: type) -> NodeSpelling:
    """How ``cls`` spells a node's parts, read from real nodes (``cls(0.5)``, ``cls(0.25)`` and
    their sum, as far as the class makes them) and the class's methods. Each part takes the first
    name of its list (VALUE_NAMES, ...) that the nodes have; that name must hold what the part
    holds (the number given to the constructor; a collection holding the sum's two operands; a
    string label; a method), and when it does not while a later name does, which one the class
    means is ambiguous: EngineLoadError, naming both. No backward method at all, or no attribute
    for the number, is EngineLoadError too. A class whose first node cannot be made gets
    micrograd's names (the probe then says why nothing can be checked)."""
    backward = _choose(cls, "the backward pass", BACKWARD_NAMES, [cls], {})
    if backward is None:
        raise EngineLoadError(f"{cls.__qualname__} does not look like a Value class (no "
                              f"{', '.join(n + '()' for n in BACKWARD_NAMES[:-1])} or "
                              f"{BACKWARD_NAMES[-1]}())")
    nodes = _sample_nodes(cls)
    if not nodes:
        return NodeSpelling(backward=backward)
    leaves = dict(zip(nodes[:2], (0.5, 0.25)))
    value = _choose(cls, "the number", VALUE_NAMES, nodes, leaves)
    if value is None:
        raise EngineLoadError(f"{cls.__qualname__}(0.5) has no attribute for its number: none of "
                              f"{', '.join('.' + n for n in VALUE_NAMES)} (the harness reads the first "
                              f"of these a node has); name it so, or write an Adapter")
    return NodeSpelling(value, _choose(cls, "the children", CHILDREN_NAMES, nodes, leaves),
                        _choose(cls, "the op's label", LABEL_NAMES, nodes, leaves), backward)


def _sample_nodes(cls: type) -> list[Any]:
    """``cls(0.5)``, ``cls(0.25)`` and their sum, as many as the class makes (an exception ends
    the list: the probe and the campaign judge it)."""
    nodes: list[Any] = []
    try:
        nodes.append(cls(0.5))
        nodes.append(cls(0.25))
        total = nodes[0] + nodes[1]
        if isinstance(total, cls):
            nodes.append(total)
    except Exception:
        pass
    return nodes


_ABSENT = object()


def _choose(cls: type, part: str, names: tuple[str, ...], nodes: list[Any],
            leaves: dict[Any, Any]) -> str | None:
    """The first of ``names`` that every one of ``nodes`` has and that holds ``part`` on each (see
    :func:`_holds`); the first name they have when none holds it (the campaign then reports what
    it finds there), None when they have none. EngineLoadError when the first name they have
    does not hold it but a later one does."""
    present = []
    for name in names:
        seen = [_get(node, name) for node in nodes]
        if all(v is not _ABSENT for v in seen):
            present.append((name, seen))
    fits = [name for name, seen in present
            if all(_holds(part, v, node, nodes, leaves) for v, node in zip(seen, nodes))]
    if not present:
        return None
    first, seen = present[0]
    if fits and fits[0] != first:
        bad = next(v for v, node in zip(seen, nodes) if not _holds(part, v, node, nodes, leaves))
        raise EngineLoadError(
            f"{cls.__qualname__}: which attribute holds {part} is ambiguous: .{first} (read first) "
            f"is {_shown(bad)}, not {_wanted(part)}, but .{fits[0]} is {_wanted(part)}; give "
            f".{first} {_wanted(part)} or another name, or write an Adapter for the class")
    if part in ("the children", "the op's label") and not fits:
        return None  # (a part the harness can do without: composition and walks read nothing)
    return first


def _get(node: Any, name: str) -> Any:
    try:
        return getattr(node, name)
    except Exception:
        return _ABSENT


def _holds(part: str, v: Any, node: Any, nodes: list[Any], leaves: dict[Any, Any]) -> bool:
    """Whether ``v`` (``node``'s attribute) is what ``part`` holds: the number given (a leaf's;
    any real number for the sum), a collection (holding the sum's two operands, by identity),
    a string label (or None on a leaf), a method."""
    leaf = any(node is n for n in leaves)
    if part == "the backward pass":
        return callable(v)
    if part == "the number":
        if isinstance(v, (str, bytes, complex, bool)):
            return False
        try:
            number = float(v)
        except (TypeError, ValueError):
            return False
        return not leaf or number == next(x for n, x in leaves.items() if n is node)
    if part == "the children":
        if isinstance(v, (str, bytes, Mapping)) or not isinstance(v, Iterable):
            return False
        if leaf:
            return True
        try:
            held = [id(c) for c in v]
        except Exception:
            return False
        return all(id(n) in held for n in nodes[:2])
    return isinstance(v, str) or (leaf and v is None)


def _wanted(part: str) -> str:
    return {"the number": "the number given (a real number)", "the children": "a collection of "
            "the operands", "the op's label": "a string", "the backward pass": "a method"}[part]


def _shown(v: Any) -> str:
    text = repr(v)
    return f"{text if len(text) <= 40 else text[:37] + '...'} ({type(v).__name__})"


class ValueClassAdapter(Adapter):
    """Wraps a micrograd-style class: ``Value(x)``, its number (``.data``, ``.val`` or ``.value``),
    ``.grad``, its backward pass (``.backward()``, ``.back_prop()`` or ``.backprop()``), Python
    operators and methods such as ``.tanh()``; the names are detected (:func:`detect_spelling`)."""

    def __init__(self, cls: type, name: str | None = None) -> None:
        self.cls = cls
        self.name = name or f"{cls.__module__}:{cls.__qualname__}"
        self.node_spelling = spelled = detect_spelling(cls)
        self._number = operator.attrgetter(spelled.value)
        self._run_backward = operator.methodcaller(spelled.backward)
        self._grad_fn = None
        self._chosen: dict[tuple[str, str], str] = {}
        self._calls: dict[tuple[str, str], Callable[..., Any]] = {}  # apply's, per (op, form)
        module = importlib.import_module(cls.__module__)
        package = importlib.import_module(module.__name__.split(".")[0])
        grad_fn = getattr(package, "grad", None)
        if callable(grad_fn) and getattr(package, "Value", None) is cls:
            self._grad_fn = grad_fn
            self.supports_higher_order = True

    def leaf(self, x: float) -> Any:
        return self.cls(x)

    def apply(self, op: Op, args: Sequence[Any], params: tuple[Any, ...]) -> Any:
        """``op`` written the way the probe found the class takes it (``abs(x)`` or ``x.abs()``)."""
        cls = self.cls
        if len(args) == 2:
            key = (op.name, BINARY_FORMS[not isinstance(args[0], cls)][not isinstance(args[1], cls)])
        elif len(args) == 1:
            key = (op.name, "n" if isinstance(args[0], cls) else "c")
        else:
            key = (op.name, "".join(["n" if isinstance(a, cls) else "c" for a in args]))
        call = self._calls.get(key)
        if call is None:
            call = self._calls[key] = spelled_call(op, self.spelling(op, key[1]))
        out = call(*args, *params)
        if not isinstance(out, cls):
            raise WrongResultError(f"{op.name} returned {_kind(type(out), cls)}")
        return out

    def spellings(self, op: Op, form: str) -> tuple[str, ...]:
        return spellings(op, form)

    def use(self, op: Op, form: str, spelling: str) -> None:
        self._choose((op.name, form), spelling)

    def _choose(self, key: tuple[str, str], spelling: str) -> None:
        self._chosen[key] = spelling
        self._calls.pop(key, None)

    def spelling(self, op: Op, form: str) -> str:
        """The spelling chosen for ``op`` in ``form``: the probe's, else (a process that did not
        probe) the one spelling the class has, or the first of several that it takes."""
        key = (op.name, form)
        if key not in self._chosen:
            names = spellings(op, form) or ("operator",)
            have = [s for s in names if hasattr(self.cls, entry_point(op, form, s))] or list(names)
            self._choose(key, have[0])
            if len(have) > 1:
                for s in have:
                    self._choose(key, s)
                    if decide(self, op, form)[0]:
                        break
                else:
                    self._choose(key, have[0])
        return self._chosen[key]

    def offers(self, op: Op, form: str) -> bool:
        return hasattr(self.cls, entry_point(op, form, self.spelling(op, form)))

    def value(self, node: Any) -> float:
        return _real(self._number(node), "value")

    def grad(self, node: Any) -> float:
        return _real(node.grad, "grad")

    def backward(self, root: Any) -> None:
        self._run_backward(root)

    def grad_of(self, output: Any, inputs: Sequence[Any], create_graph: bool) -> list[Any]:
        return list(self._grad_fn(output, inputs, create_graph=create_graph, allow_unused=True))

    def derivative_graph(self, node: Any) -> list[NodeInfo]:
        """A walk of the children (``_prev``) reading the number (``.data``), as the class spells
        them; the op's name from ``.op.name`` where the class has it (vetgrad). A constant operand
        that the children show as a new leaf on each access (as vetgrad's ``x * 2.0`` does) counts
        as a constant, not a node. [] on any surprise."""
        try:
            return _walk_prev(node, self.node_spelling)
        except Exception:
            return []


def _walk_prev(root: Any, spelled: NodeSpelling = MICROGRAD) -> list[NodeInfo]:
    children, number = spelled.children, operator.attrgetter(spelled.value)
    if children is None or not hasattr(root, children):
        return []
    out: list[NodeInfo] = []
    seen = {id(root)}
    stack = [root]
    while stack:
        v = stack.pop()
        parents = tuple(getattr(v, children, ()))
        again = tuple(getattr(v, children, ()))
        constant = tuple(p is not q for p, q in zip(parents, again))
        for p, const in zip(parents, constant):
            if not const and id(p) not in seen:
                seen.add(id(p))
                stack.append(p)
        name = getattr(getattr(v, "op", None), "name", None)
        out.append(NodeInfo(name if isinstance(name, str) else None,
                            tuple(float(number(p)) for p in parents), float(number(v)), constant))
    return out


def _kind(got: type, wanted: type) -> str:
    """What an op returned instead of a node ('a float, not a Value'); the classes with their
    modules where the names alone are the same (a subclass whose ops return its base's nodes)."""
    if got.__name__ == wanted.__name__:
        return (f"an object of class {got.__module__}.{got.__qualname__}, not of "
                f"{wanted.__module__}.{wanted.__qualname__} (an op must return the class's own nodes)")
    return f"a {got.__name__}, not a {wanted.__name__}"


def _real(x: Any, what: str) -> float:
    """``x`` as a float; a complex number or a non-number is the engine's, said as such."""
    if type(x) is float:
        return x
    if isinstance(x, complex):
        raise WrongResultError(f"the engine returned a complex value as its {what}: {x!r}")
    if isinstance(x, (str, bytes)):  # float("0.5") would read it as a number
        raise WrongResultError(f"the engine's {what} is not a real number: {x!r} ({type(x).__name__})")
    try:
        return float(x)
    except (TypeError, ValueError) as exc:
        raise WrongResultError(f"the engine's {what} is not a real number: {x!r} "
                               f"({type(x).__name__})") from exc


PRECISIONS = (("float64", 2.0**-52), ("float32", 2.0**-23), ("float16", 2.0**-10))


def precision(adapter: Adapter) -> tuple[str, float]:
    """What the engine was seen to store numbers in (name, rounding unit): the type whose
    rounding every one of a few leaves shows exactly (float64 unless proven narrower)."""
    import struct

    xs = (0.1, 1 / 3, 2.718281828459045, -7.3, 1234.5678)
    try:
        seen = [adapter.value(adapter.leaf(x)) for x in xs]
    except Exception:
        return PRECISIONS[0]
    for (name, eps), code in zip(PRECISIONS[1:], ("<f", "<e")):
        if all(v == struct.unpack(code, struct.pack(code, x))[0] for x, v in zip(xs, seen)):
            return name, eps
    return PRECISIONS[0]


def load_adapter(spec: str | type | Adapter) -> Adapter:
    """``module:attr`` naming a Value class or an Adapter subclass, or the object itself."""
    if isinstance(spec, Adapter):
        return check_adapter(spec)
    target: Any = spec
    if isinstance(spec, str):
        module_name, _, attr = spec.partition(":")
        if not module_name or not attr:
            raise EngineLoadError(f"--engine must look like module:attr (e.g. engine:Value), got {spec!r}")
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:
            raise EngineLoadError(f"cannot import module {module_name!r}: {type(exc).__name__}: {exc}") from exc
        target = module
        for part in attr.split("."):
            if not hasattr(target, part):
                raise EngineLoadError(f"module {module_name!r} has no attribute {attr!r}")
            target = getattr(target, part)
    if isinstance(target, type) and issubclass(target, Adapter):
        return check_adapter(target())
    if isinstance(target, type):
        if not hasattr(target, "__add__"):
            raise EngineLoadError(f"{target.__qualname__} does not look like a Value class (no __add__)")
        return ValueClassAdapter(target, spec if isinstance(spec, str) else None)  # (its spelling)
    raise EngineLoadError(f"{spec!r} is neither a Value class nor an Adapter subclass")


def check_adapter(adapter: Adapter) -> Adapter:
    """``adapter``, once its first leaf is made and read: an exception raised in the adapter's
    own code (a frame of its class's methods, not of the engine it calls) is a usage error
    (EngineLoadError) naming the adapter; anything else is left for the probe to judge. A C
    function's exception also shows in the caller's frame, so only the failures that are the
    adapter's whatever it calls count (see _adapters_own)."""
    cls = type(adapter)
    if cls.__module__.startswith("vetgrad.conformance."):
        return adapter
    own = {f.__code__ for klass in cls.__mro__ if issubclass(klass, Adapter)
           for f in vars(klass).values() if hasattr(f, "__code__")}
    step = "leaf(0.7)"
    try:
        node = adapter.leaf(0.7)
        step = "value(leaf(0.7))"
        adapter.value(node)
    except Exception as exc:
        tb = exc.__traceback__
        while tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
        if tb is not None and tb.tb_frame.f_code in own and _adapters_own(exc, adapter, tb):
            where = f"{tb.tb_frame.f_code.co_filename}, line {tb.tb_lineno}"
            raise EngineLoadError(f"the adapter {cls.__module__}:{cls.__qualname__} failed in its own "
                                  f"code: {step} raised {type(exc).__name__}: {exc} ({where})") from exc
    return adapter


def _adapters_own(exc: Exception, adapter: Adapter, tb: Any) -> bool:
    """A name the adapter's code cannot resolve (NameError, ImportError, an attribute missing on
    a module or on the adapter itself), or a method it did not write (Adapter's own default)."""
    import types

    if isinstance(exc, (NameError, ImportError)):
        return True
    if isinstance(exc, AttributeError):
        return isinstance(getattr(exc, "obj", None), (types.ModuleType, Adapter))
    return isinstance(exc, NotImplementedError) and tb.tb_frame.f_code in {
        f.__code__ for f in vars(Adapter).values() if hasattr(f, "__code__")}
