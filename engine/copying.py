"""Pickle, deepcopy and copy of ``Value`` graphs at any depth, at the default recursion limit.

Below :mod:`engine.value` in the import graph (value imports this module): a node is anything with
``data``, ``grad``, ``_a``, ``_b``, ``_spec`` and maybe ``_label``.

Pickle saves an object's state after the object itself, and a node's state names its parents: a
plain reduction recurses once per level of the graph (RecursionError past ~250). Here a node's
reduction first saves a *prelude*: the node's ancestors that this dump has not saved yet, in
topological order (inputs first), streamed by a generator. Each of them then finds its parents
already in the pickler's memo, so the recursion stays a few frames deep and every node is still its
own pickled object: sharing (``x*x``, a node in two containers, several roots) survives, and nothing
is saved twice. "Saved in this dump" is a set of ids in a per-thread token that the node
reductions put in the stream; the pickler's memo keeps the token alive for the dump (and its ids
valid), the thread holds it only weakly, so a new dump starts from a new token (and an empty set)
and the set is freed with the pickler. ``deepcopy`` is iterative too, through its memo.
"""

from __future__ import annotations

import copy
import threading
import weakref
from typing import Any, Iterator

from vetgrad.engine.backprop import Untracked
from vetgrad.engine.ops import BoundOp, ConstOp, Op

_SHARED_SPECS = (Op, ConstOp, BoundOp, Untracked)  # immutable: copies share them


class _Token:
    """Stands for one dump: what it has saved. Pickled as a tiny marker."""

    __slots__ = ("__weakref__", "last", "pickled", "saved")

    def __init__(self) -> None:
        self.saved: set[int] = set()
        self.last: Any = None  # the node whose reduction is being saved
        self.pickled = False

    def __reduce__(self) -> tuple[Any, ...]:
        if not self.pickled:  # first in this dump: the set describes it
            self.pickled = True
            return (_token, ())
        # Saved again by another pickler while this one lives (a Pickler kept open): the set is
        # not this dump's. Start it again, and save the current node's ancestors first.
        self.saved = {id(self.last)}
        return (_token, (_Prelude(self.last, self),))


def _token(*_prelude: Any) -> None:
    """How a token unpickles: nothing (the nodes that name it ignore it)."""
    return None


class _Local(threading.local):
    token: Any = None  # a weakref.ref to this thread's current token, or None


_local = _Local()


def _current_token() -> _Token:
    ref = _local.token
    token = ref() if ref is not None else None
    if token is None:
        token = _Token()
        _local.token = weakref.ref(token)
    return token


class _Prelude:
    """The ancestors of ``node`` not yet saved, pickled as a list streamed in topological order."""

    __slots__ = ("node", "token")

    def __init__(self, node: Any, token: _Token) -> None:
        self.node = node
        self.token = token

    def __reduce__(self) -> tuple[Any, ...]:
        return (list, (), None, self._stream())

    def _stream(self) -> Iterator[Any]:
        saved = self.token.saved
        node = self.node
        parents = [p for p in (node._a, node._b) if p is not None and p.__class__ is not float]
        for node in unseen_ancestors(parents, saved):
            saved.add(id(node))  # pickle saves it next, before anything made from it
            yield node


def unseen_ancestors(roots: list[Any], seen: Any) -> list[Any]:
    """``roots`` and their ancestors whose id is not in ``seen`` (a set or dict of ids), each after
    its parents; a node in ``seen`` is not entered, so its ancestors are left out too."""
    order: list[Any] = []
    done: set[int] = set()
    stack: list[Any] = roots[::-1]
    while stack:
        v = stack.pop()
        if v is None:  # the parents of the node below the marker are done
            order.append(stack.pop())
            continue
        key = id(v)
        if key in done or key in seen:
            continue
        done.add(key)
        a = v._a
        if a is None:
            order.append(v)
            continue
        stack.append(v)
        stack.append(None)
        b = v._b
        if b is not None and b.__class__ is not float:
            stack.append(b)
        stack.append(a)  # popped first: the first parent comes first
    return order


def reduce_node(node: Any) -> tuple[Any, ...]:
    """``node.__reduce_ex__``: rebuild from its own fields, after a prelude if a parent is not
    saved yet in this dump."""
    token = _current_token()
    saved = token.saved
    token.last = node
    a, b = node._a, node._b
    fresh = (a is not None and id(a) not in saved) or (
        b is not None and b.__class__ is not float and id(b) not in saved)
    prelude = _Prelude(node, token) if fresh else None
    saved.add(id(node))  # memoised right after these arguments, which never contain it
    cls = node.__class__
    args = (cls, token, prelude, node.data, node.grad, a, b, node._spec,
            getattr(node, "_label", None))  # unset on nodes made by ops
    if cls in _PLAIN:  # a Value (learnt on the first node of each class)
        return (rebuild, args)
    extra = _extra_state(node, cls)
    return (rebuild, args) if extra is None else (rebuild, args, extra)


def rebuild(cls: type, token: Any, prelude: Any, data: float, grad: float, a: Any, b: Any,
            spec: Any, label: str | None) -> Any:
    """A node from its fields (how pickle restores one; token and prelude are only for order)."""
    out = object.__new__(cls)
    out.data = data
    out.grad = grad
    out._a = a
    out._b = b
    out._spec = spec
    if label is not None:
        out._label = label
    return out


_BASE_SLOTS = frozenset(("__weakref__", "__dict__", "_a", "_b", "_label", "_spec", "data", "grad"))
_OWN_SLOTS: dict[type, tuple[str, ...]] = {}  # class -> the slots its subclass adds to Value's
_PLAIN: set[type] = set()  # classes whose instances have no attribute beyond Value's


def _own_slots(cls: type) -> tuple[str, ...]:
    names = _OWN_SLOTS.get(cls)
    if names is None:
        found: list[str] = []
        for klass in cls.__mro__:
            declared = klass.__dict__.get("__slots__", ())
            for name in (declared,) if isinstance(declared, str) else declared:
                if name not in _BASE_SLOTS and name not in found:
                    found.append(name)
        names = _OWN_SLOTS[cls] = tuple(found)
        if not names and not cls.__dictoffset__:  # no __dict__ either
            _PLAIN.add(cls)
    return names


def _extra_state(node: Any, cls: type) -> tuple[dict[str, Any] | None, dict[str, Any]] | None:
    """A subclass's own attributes (its ``__dict__`` and further slots), as pickle's BUILD takes
    them; None for a plain Value."""
    names = _own_slots(cls)
    instance_dict = getattr(node, "__dict__", None) or None
    if not names and instance_dict is None:
        return None
    return instance_dict, {name: getattr(node, name) for name in names if hasattr(node, name)}


def _apply(target: Any, extra: tuple[dict[str, Any] | None, dict[str, Any]]) -> None:
    instance_dict, slots = extra
    if instance_dict:
        target.__dict__.update(instance_dict)
    for name, value in slots.items():
        setattr(target, name, value)


def _copy_fields(node: Any, a: Any, b: Any, spec: Any) -> Any:
    out = object.__new__(node.__class__)
    out.data = node.data
    out.grad = node.grad  # floats are immutable; UNSET stays the marker
    out._a = a
    out._b = b
    out._spec = spec
    label = getattr(node, "_label", None)
    if label is not None:
        out._label = label
    return out


def copy_node(node: Any) -> Any:
    """``copy.copy(node)``: a new node with the same fields (the same parents)."""
    out = _copy_fields(node, node._a, node._b, node._spec)
    extra = _extra_state(node, node.__class__)
    if extra is not None:
        _apply(out, extra)
    return out


def deepcopy_graph(root: Any, memo: dict[int, Any]) -> Any:
    """``copy.deepcopy(root, memo)``: copy ``root`` and every ancestor not in ``memo``, inputs first
    (no recursion), so that a node shared in the graph or with other copied objects is copied once.
    Table specs are immutable and shared, as pickle shares them."""
    keep = memo.setdefault(id(memo), [])  # keeps the originals alive while memo uses their ids
    shared = _SHARED_SPECS
    for node in unseen_ancestors([root], memo):
        a, b, spec = node._a, node._b, node._spec
        if a is not None:
            a = memo[id(a)]
        if b is not None and b.__class__ is not float:
            b = memo[id(b)]
        if spec is not None and not isinstance(spec, shared):
            spec = copy.deepcopy(spec, memo)
        out = _copy_fields(node, a, b, spec)
        extra = _extra_state(node, node.__class__)
        if extra is not None:
            _apply(out, copy.deepcopy(extra, memo))
        memo[id(node)] = out
        keep.append(node)
    return memo[id(root)]
