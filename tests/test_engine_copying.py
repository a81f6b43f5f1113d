"""pickle, deepcopy and copy of graphs: any depth at the default recursion limit, bit-identical
values and gradients (unset ones stay unset), the structure kept (sharing, constants, op specs)."""

from __future__ import annotations

import copy
import io
import math
import pickle
import sys
from array import array

import pytest
from vetgrad.engine import Value, no_grad, topological_order
from vetgrad.engine.backprop import UNSET, UNTRACKED


def _pickled(v):
    return pickle.loads(pickle.dumps(v, protocol=pickle.HIGHEST_PROTOCOL))


def _pickled_v0(v):
    return pickle.loads(pickle.dumps(v, protocol=0))


CLONES = [_pickled, _pickled_v0, copy.deepcopy]
IDS = ["pickle", "pickle-protocol-0", "deepcopy"]


def _fields(v: Value) -> tuple:
    b = v._b.hex() if isinstance(v._b, float) else type(v._b).__name__
    return (v.data.hex(), v.grad.hex(), v.grad is UNSET, v._spec, b, v.label)


def _same_graph(root: Value, twin: Value) -> None:
    nodes, copies = topological_order([root]), topological_order([twin])
    assert len(nodes) == len(copies) and not set(map(id, nodes)) & set(map(id, copies))
    assert [_fields(v) for v in nodes] == [_fields(v) for v in copies]
    assert _wiring(nodes) == _wiring(copies)  # the same parents, by position: sharing is kept


def _wiring(order: list[Value]) -> list[list[int]]:
    index = {id(v): i for i, v in enumerate(order)}
    return [[index[id(p)] for p in (v._a, v._b) if isinstance(p, Value)] for v in order]


def _chain(nodes: int) -> tuple[Value, Value]:
    x = y = Value(0.5, label="x")
    for _ in range(nodes - 1):
        y = y.tanh()
    return x, y


@pytest.mark.slow
@pytest.mark.parametrize("clone", [_pickled, copy.deepcopy], ids=["pickle", "deepcopy"])
def test_a_million_node_chain_round_trips_at_the_default_recursion_limit(clone) -> None:
    assert sys.getrecursionlimit() <= 1000
    x, y = _chain(1_000_000)
    y.backward()
    x.grad, mid = UNSET, y._a._a  # one unset grad among set ones
    mid.grad = -0.0
    twin = clone(y)
    nodes, copies = topological_order([y]), topological_order([twin])
    assert len(copies) == 1_000_000 and copies[0].label == "x"
    assert _bits(copies) == _bits(nodes) and [v._spec for v in copies] == [v._spec for v in nodes]
    y.backward()
    twin.backward()
    assert _bits(copies) == _bits(nodes)


def _bits(nodes: list[Value]) -> tuple[bytes, bytes, list[bool]]:
    """Values and gradients bit for bit, and which gradients are unset."""
    return (array("d", [v.data for v in nodes]).tobytes(),
            array("d", [v.grad for v in nodes]).tobytes(), [v.grad is UNSET for v in nodes])


@pytest.mark.parametrize("clone", CLONES, ids=IDS)
def test_a_deep_dag_of_every_node_kind_keeps_its_structure(clone) -> None:
    a, b = Value(0.7, label="a"), Value(-1.3)
    y = a
    for i in range(3000):  # constants on either side, x*x, parameters, shared nodes
        h = y * y if i % 5 == 0 else y
        y = [h + b, 2.0 - h, (h * 0.5).tanh(), h.leaky_relu(0.2), h.clamp(-1, 1), h ** 2 / 3,
             h.maximum(b), 1.0 / (h * h + 1.0)][i % 8]
    y.label = "root"
    _same_graph(y, clone(y))
    twin = clone(y)
    y.backward()
    twin.backward()
    _same_graph(y, twin)


@pytest.mark.parametrize("clone", CLONES, ids=IDS)
def test_values_in_containers_keep_their_identity(clone) -> None:
    x, y = _chain(5000)
    z = y * x
    box = clone({"order": topological_order([z]), "root": z, "leaf": x, "again": [z, y]})
    order, root = box["order"], box["root"]
    assert order[-1] is root is box["again"][0] and order[0] is box["leaf"] is root._b
    assert box["again"][1] is root._a is order[-2]
    assert all(order[i]._a is order[i - 1] for i in range(1, len(order) - 1))


def test_a_pickler_kept_open_does_not_confuse_the_next_dump() -> None:
    _, y = _chain(20_000)
    kept = pickle.Pickler(io.BytesIO())
    kept.dump(y)  # its memo (and what it saved) lives on
    twin = _pickled(y)
    kept.dump([y])
    _same_graph(y, twin)


class Tagged(Value):
    """A subclass with attributes of its own (a slot and a __dict__)."""

    __slots__ = ("__dict__", "tag")


@pytest.mark.parametrize("clone", [*CLONES, copy.copy], ids=[*IDS, "copy"])
def test_a_subclass_keeps_its_own_attributes(clone) -> None:
    t = Tagged(2.0)
    t.tag, t.note = "w", [1, 2]
    twin = clone(t * 3.0)._a if clone is not copy.copy else clone(t)
    assert type(twin) is Tagged and (twin.tag, twin.note, twin.data) == ("w", [1, 2], 2.0)
    assert (twin.note is t.note) == (clone is copy.copy)


@pytest.mark.parametrize("clone", CLONES, ids=IDS)
def test_untracked_results_stay_untracked(clone) -> None:
    x = Value(1.0)
    with no_grad():
        c = x * 2.0
    twin = clone(c)
    assert twin._spec is UNTRACKED and twin._a is None and twin.data == 2.0


def test_copy_is_shallow_and_deepcopy_uses_the_memo() -> None:
    x = Value(3.0)
    y = x * x
    shallow = copy.copy(y)
    assert shallow is not y and shallow._a is x and shallow._b is x
    memo: dict = {}
    x2 = copy.deepcopy(x, memo)
    y2 = copy.deepcopy(y, memo)
    assert y2._a is x2 and y2._b is x2 and math.isclose(y2.data, 9.0)
