"""Adapters: how the harness talks to an engine (make a leaf, apply an op, read value and grad,
run backward). A micrograd-style ``Value`` class is wrapped automatically and the ops it supports
are probed; an engine with other conventions can name an :class:`Adapter` subclass instead.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Sequence

from engine.ops import Op, public_ops

# Operand forms of an op: 'n' unary; 'nn' both nodes, 'nc' constant on the right, 'cn' on the left.
FORMS_BINARY = ("nn", "nc", "cn")
_PROBE = (0.7, 1.3)


def operand_forms(op: Op) -> tuple[str, ...]:
    """The forms an op can take: a constant on the left needs an operator (``2 - x``); a method
    (``x.maximum(2)``) only takes it on the right."""
    if op.arity == 1:
        return ("n",)
    return FORMS_BINARY if op.dunder else ("nn", "nc")


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
        tries it); an adapter that lacks an op raises NotImplementedError from ``apply``."""
        return True


class ValueClassAdapter(Adapter):
    """Wraps a micrograd-style class: ``Value(x)``, ``.data``, ``.grad``, ``.backward()``, Python
    operators and methods such as ``.tanh()``."""

    def __init__(self, cls: type, name: str | None = None) -> None:
        self.cls = cls
        self.name = name or f"{cls.__module__}:{cls.__qualname__}"
        self._grad_fn = None
        module = importlib.import_module(cls.__module__)
        package = importlib.import_module(module.__name__.split(".")[0])
        grad_fn = getattr(package, "grad", None)
        if callable(grad_fn) and getattr(package, "Value", None) is cls:
            self._grad_fn = grad_fn
            self.supports_higher_order = True

    def leaf(self, x: float) -> Any:
        return self.cls(x)

    def apply(self, op: Op, args: Sequence[Any], params: tuple[Any, ...]) -> Any:
        out = op.call(*args, *params)
        if not isinstance(out, self.cls):
            raise WrongResultError(f"{op.name} returned a {type(out).__name__}, not a {self.cls.__name__}")
        return out

    def offers(self, op: Op, form: str) -> bool:
        if op.dunder:
            return hasattr(self.cls, f"__{'r' if form == 'cn' else ''}{op.dunder}__")
        return op.method is not None and hasattr(self.cls, op.method)

    def value(self, node: Any) -> float:
        return _real(node.data, "value")

    def grad(self, node: Any) -> float:
        return _real(node.grad, "grad")

    def backward(self, root: Any) -> None:
        root.backward()

    def grad_of(self, output: Any, inputs: Sequence[Any], create_graph: bool) -> list[Any]:
        return list(self._grad_fn(output, inputs, create_graph=create_graph, allow_unused=True))

    def derivative_graph(self, node: Any) -> list[NodeInfo]:
        """A walk of ``_prev`` reading ``.data``; the op's name from ``.op.name`` where the class
        has it (vetgrad). A constant operand that ``_prev`` shows as a new leaf on each access (as
        vetgrad's ``x * 2.0`` does) counts as a constant, not a node. [] on any surprise."""
        try:
            return _walk_prev(node)
        except Exception:
            return []


def _walk_prev(root: Any) -> list[NodeInfo]:
    if not hasattr(root, "_prev"):
        return []
    out: list[NodeInfo] = []
    seen = {id(root)}
    stack = [root]
    while stack:
        v = stack.pop()
        parents = tuple(getattr(v, "_prev", ()))
        again = tuple(getattr(v, "_prev", ()))
        constant = tuple(p is not q for p, q in zip(parents, again))
        for p, const in zip(parents, constant):
            if not const and id(p) not in seen:
                seen.add(id(p))
                stack.append(p)
        name = getattr(getattr(v, "op", None), "name", None)
        out.append(NodeInfo(name if isinstance(name, str) else None,
                            tuple(float(p.data) for p in parents), float(v.data), constant))
    return out


class WrongResultError(Exception):
    """An op of the engine returned something that is not one of its nodes."""


def _real(x: Any, what: str) -> float:
    """``x`` as a float; a complex number or a non-number is the engine's, said as such."""
    if isinstance(x, complex):
        raise WrongResultError(f"the engine returned a complex value as its {what}: {x!r}")
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


def probe(adapter: Adapter) -> dict[str, tuple[str, ...]]:
    """Which forms of which ops the engine offers. A form is unsupported when the engine lacks it
    or refuses it: no such method or operator, NotImplementedError, an assert or a TypeError (as
    micrograd's ``Value ** Value``), or an AttributeError with a plain-number operand. A form that
    exists but crashes otherwise, returns nan or a non-Value on ordinary inputs, or whose backward
    raises is kept: the campaign reports it as the bug it is, not as an op the engine lacks."""
    supported: dict[str, tuple[str, ...]] = {}
    for op in public_ops():
        params = op.sweep_params[0]  # type: ignore[index]
        ok = [form for form in operand_forms(op)
              if adapter.offers(op, form) and _tries(adapter, op, form, params)]
        if ok:
            supported[op.name] = tuple(ok)
    return supported


def _tries(adapter: Adapter, op: Op, form: str, params: tuple[Any, ...]) -> bool:
    """Whether ``op`` in ``form`` is offered: False only for a refusal, True for anything else."""
    try:
        leaves = [adapter.leaf(x) for x in _PROBE[: form.count("n")]]
        it = iter(leaves)
        args = [next(it) if f == "n" else _PROBE[i] for i, f in enumerate(form)]
        out = adapter.apply(op, args, params)
        adapter.value(out)
    except (NotImplementedError, AssertionError, TypeError):
        return False
    except AttributeError:
        return "c" not in form  # a plain number it cannot take ('float' has no attribute 'data')
    except Exception:
        return True
    if op.differentiable:
        try:
            adapter.backward(out)
        except NotImplementedError:
            return False
        except Exception:
            return True
    return True


class EngineLoadError(Exception):
    """The engine named on the command line cannot be used (exit status 2)."""


def load_adapter(spec: str | type | Adapter) -> Adapter:
    """``module:attr`` naming a Value class or an Adapter subclass, or the object itself."""
    if isinstance(spec, Adapter):
        return spec
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
        return target()
    if isinstance(target, type):
        for needed in ("__add__", "backward"):
            if not hasattr(target, needed):
                raise EngineLoadError(f"{target.__qualname__} does not look like a Value class (no {needed})")
        return ValueClassAdapter(target, spec if isinstance(spec, str) else None)
    raise EngineLoadError(f"{spec!r} is neither a Value class nor an Adapter subclass")
