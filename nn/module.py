"""``Module``: the base of every model, with parameter discovery and plain-float state dicts.

A module's parameters are found by walking its public attributes in definition order: a ``Value``
or a list of Values is a parameter *entry* (``"b"``, ``"w"``), a module or a list of modules is
walked with a dotted prefix (``"layers.0.neurons.1.w"``). Entries are what a state dict holds (a
float, or a list of floats); ``named_parameters`` flattens list entries to one name per scalar.
"""

from __future__ import annotations

import numbers
from typing import Any, Iterable, Iterator, Mapping, NamedTuple

from vetgrad.engine import Value, zero_grad


class IncompatibleKeys(NamedTuple):
    """What ``load_state_dict(..., strict=False)`` skipped, as torch reports it."""

    missing_keys: list[str]
    unexpected_keys: list[str]


class Module:
    """Base class: subclasses hold Values, lists of Values, modules or lists of modules as public
    attributes, and define ``__call__``."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not define __call__")

    # -- discovery ------------------------------------------------------------------------------
    def _members(self) -> Iterable[tuple[str, Any]]:
        """(name, attribute) pairs to walk; private attributes (leading ``_``) are skipped."""
        return ((k, v) for k, v in vars(self).items() if not k.startswith("_"))

    def named_entries(self, prefix: str = "") -> Iterator[tuple[str, Value | list[Value]]]:
        """Every parameter entry with its dotted name: a Value or a list of Values."""
        for name, obj in self._members():
            if isinstance(obj, Value):
                yield prefix + name, obj
            elif isinstance(obj, Module):
                yield from obj.named_entries(f"{prefix}{name}.")
            elif isinstance(obj, (list, tuple)) and obj:
                if all(isinstance(v, Value) for v in obj):
                    yield prefix + name, list(obj)
                elif all(isinstance(m, Module) for m in obj):
                    for i, m in enumerate(obj):
                        yield from m.named_entries(f"{prefix}{name}.{i}.")

    def named_parameters(self) -> list[tuple[str, Value]]:
        """``(name, Value)`` for every scalar parameter, in a fixed order; a Value shared by two
        places is listed once (as torch does), so an optimizer never updates it twice."""
        out: list[tuple[str, Value]] = []
        seen: set[int] = set()
        for name, entry in self.named_entries():
            if isinstance(entry, Value):
                if id(entry) not in seen:
                    seen.add(id(entry))
                    out.append((name, entry))
                continue
            for i, v in enumerate(entry):
                if id(v) not in seen:
                    seen.add(id(v))
                    out.append((f"{name}.{i}", v))
        return out

    def parameters(self) -> list[Value]:
        """All scalar parameters (the Values an optimizer updates), as a list."""
        return [v for _, v in self.named_parameters()]

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Unset the gradient of every parameter (reads 0.0; torch's None); call before each
        ``backward()``. ``set_to_none=False``: a set gradient becomes a set 0.0 instead."""
        zero_grad(self.parameters(), set_to_none)

    # -- state ----------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, float | list[float]]:
        """Parameter values as plain floats (JSON-serialisable): one key per entry, a float for a
        scalar entry and a list of floats for a list entry."""
        return {
            name: entry.data if isinstance(entry, Value) else [v.data for v in entry]
            for name, entry in self.named_entries()
        }

    def load_state_dict(
        self, state_dict: Mapping[str, Any], strict: bool = True
    ) -> IncompatibleKeys:
        """Copy values from ``state_dict`` into the parameters (the same Value objects, so an
        optimizer holding them keeps working). Everything is checked before anything is written:
        missing or extra keys (when ``strict``) and wrong shapes or types raise, naming the key."""
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"state_dict must be a mapping of str to floats or lists of floats, "
                            f"got {type(state_dict).__name__}")
        entries = dict(self.named_entries())
        missing = [k for k in entries if k not in state_dict]
        unexpected = [k for k in state_dict if k not in entries]
        if strict and (missing or unexpected):
            problems = []
            if missing:
                problems.append(f"missing key(s): {_show(missing)}")
            if unexpected:
                problems.append(f"unexpected key(s): {_show(unexpected)}")
            raise ValueError(f"cannot load state_dict into {type(self).__name__}: "
                             + "; ".join(problems))
        writes: list[tuple[Value, float]] = []
        for key, entry in entries.items():
            if key not in state_dict:
                continue
            got = state_dict[key]
            if isinstance(entry, Value):
                writes.append((entry, _number(got, key)))
                continue
            if isinstance(got, (str, bytes)) or not isinstance(got, (list, tuple)):
                raise ValueError(f"state_dict[{key!r}] must be a list of {len(entry)} floats, "
                                 f"got {type(got).__name__}: {_short(got)}")
            if len(got) != len(entry):
                raise ValueError(f"state_dict[{key!r}] has shape [{len(got)}], "
                                 f"expected [{len(entry)}]")
            writes.extend((v, _number(x, f"{key}[{i}]")) for i, (v, x) in enumerate(zip(entry, got)))
        for v, x in writes:
            v.data = x
        return IncompatibleKeys(missing, unexpected)

    def num_parameters(self) -> int:
        """How many scalar parameters the module has."""
        return len(self.named_parameters())

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _number(x: Any, key: str) -> float:
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        shape = "a list" if isinstance(x, (list, tuple)) else type(x).__name__
        raise ValueError(f"state_dict[{key!r}] must be a float (shape []), got {shape}: "
                         f"{_short(x)}")
    return float(x)


def _short(x: Any) -> str:
    text = repr(x)
    return text if len(text) <= 60 else text[:57] + "..."


def _show(keys: list[str]) -> str:
    shown = ", ".join(repr(k) for k in keys[:8])
    return shown + (f" and {len(keys) - 8} more" if len(keys) > 8 else "")


def indent_repr(head: str, children: Iterable[tuple[str, Module]]) -> str:
    """torch's layout: ``Head(`` then ``  (name): child`` lines, then ``)``."""
    lines = [f"  ({name}): " + repr(child).replace("\n", "\n  ") for name, child in children]
    return f"{head}(\n" + "\n".join(lines) + "\n)" if lines else f"{head}()"


class Sequential(Module):
    """Modules applied one after the other; each gets the previous one's output (``torch.nn.
    Sequential``). Returns the last module's output unchanged (a Layer gives a list)."""

    def __init__(self, *modules: Module) -> None:
        if len(modules) == 1 and isinstance(modules[0], (list, tuple)):
            modules = tuple(modules[0])
        for i, m in enumerate(modules):
            if not isinstance(m, Module):
                raise TypeError(f"Sequential takes modules; item {i} is {type(m).__name__}")
        self._modules = list(modules)

    def _members(self) -> Iterable[tuple[str, Any]]:
        return ((str(i), m) for i, m in enumerate(self._modules))

    def __call__(self, x: Any) -> Any:
        for m in self._modules:
            x = m(x)
        return x

    def __getitem__(self, i: int) -> Module:
        return self._modules[i]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules)

    def append(self, module: Module) -> Sequential:
        if not isinstance(module, Module):
            raise TypeError(f"Sequential.append takes a module, got {type(module).__name__}")
        self._modules.append(module)
        return self

    def __repr__(self) -> str:
        return indent_repr("Sequential", ((str(i), m) for i, m in enumerate(self._modules)))
