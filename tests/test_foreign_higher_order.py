"""The higher-order check on an engine that is not vetgrad: it reads the engine's derivative graph
only through the adapter (``derivative_graph``), so a foreign engine with ``grad()`` gets a finding
or an undecided case, never an AttributeError from vetgrad's internals."""

from __future__ import annotations

import math
import sys
import types

import pytest

pytest.importorskip("torch", reason="the higher-order check compares with PyTorch")

from vetgrad.conformance.dags.graph import Graph, Node
from vetgrad.conformance.judging.checker import Checker
from vetgrad.conformance.subject.adapters import Adapter, NodeInfo, load_adapter

pytestmark = pytest.mark.torch

# A tiny micrograd-style engine with functional gradients (``grad(output, inputs, create_graph,
# allow_unused)`` in its package, as vetgrad offers). Its backward is right; the rule grad()
# uses for ``a - b`` sends +1 to b (one of the textbook mutants), and its own derivatives of
# tanh contain 1 - t * t: the second derivative of tanh comes out with the wrong sign.
FOREIGN = '''
import math

class Value:
    def __init__(self, data, _prev=(), _rule=None):
        self.data, self.grad, self._prev, self._rule = float(data), 0.0, tuple(_prev), _rule

    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        return Value(self.data + other.data, (self, other), lambda g, a, b: (g, g))

    __radd__ = __add__

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        return Value(self.data * other.data, (self, other), lambda g, a, b: (g * b, g * a))

    __rmul__ = __mul__

    def __sub__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        return Value(self.data - other.data, (self, other), lambda g, a, b: (g, g))  # the bug

    def __rsub__(self, other):
        return Value(other) - self

    def tanh(self):
        return Value(math.tanh(self.data), (self,), lambda g, a: (g * (1 - a.tanh() * a.tanh()),))

    def backward(self):
        for v, g in _grads(self, 1.0, create_graph=False).items():
            v.grad += g


def _order(root):
    order, seen, stack = [], set(), [(root, False)]
    while stack:
        v, done = stack.pop()
        if done:
            order.append(v)
        elif v not in seen:
            seen.add(v)
            stack.append((v, True))
            stack.extend((p, False) for p in v._prev)
    return order


def _grads(root, seed, create_graph):
    grads = {root: Value(seed) if create_graph else seed}
    for v in reversed(_order(root)):
        g = grads.get(v)
        if g is None or v._rule is None:
            continue
        parts = v._rule(g if create_graph else Value(g), *v._prev)
        for p, d in zip(v._prev, parts):
            d = d if create_graph else d.data
            grads[p] = d if p not in grads else grads[p] + d
    return grads


def grad(output, inputs, create_graph=False, allow_unused=False):
    grads = _grads(output, 1.0, create_graph=True)
    out = [grads.get(x) for x in inputs]
    return out if create_graph else [None if g is None else Value(g.data) for g in out]
'''


@pytest.fixture
def foreign(monkeypatch: pytest.MonkeyPatch) -> type:
    module = types.ModuleType("_vetgrad_foreign_engine")
    exec(compile(FOREIGN, "<foreign engine>", "exec"), module.__dict__)
    monkeypatch.setitem(sys.modules, module.__name__, module)  # the adapter imports cls.__module__
    return module.Value


TANH = Graph((Node("leaf", value=0.4), Node("tanh", (0,))))


def test_the_foreign_engine_passes_first_order_and_offers_higher_order(foreign: type) -> None:
    adapter = load_adapter(foreign)
    assert adapter.supports_higher_order
    (result,) = Checker(adapter, "cpu", strict=False).check([TANH], [0])
    assert result.finding is None, result.finding.message


def test_a_wrong_second_derivative_of_a_foreign_engine_is_a_finding(foreign: type) -> None:
    adapter = load_adapter(foreign)
    (result,) = Checker(adapter, "cpu", strict=False, higher_order=3).check([TANH], [0])
    assert result.finding is not None, "the wrong second derivative went unnoticed"
    assert result.finding.kind == "higher-order" and result.finding.message.startswith("d^2(root)")
    t = math.tanh(0.4)
    assert str(-2 * t * (1 - t * t))[:8] in result.finding.message  # torch's value is quoted


def test_the_foreign_derivative_graph_is_read_through_the_adapter(foreign: type) -> None:
    adapter = load_adapter(foreign)
    x = adapter.leaf(0.4)
    (d,) = adapter.grad_of(x.tanh(), [x], create_graph=True)
    nodes = adapter.derivative_graph(d)
    assert nodes and all(isinstance(n, NodeInfo) and n.op is None for n in nodes)
    assert any(n.value == d.data for n in nodes)


def test_an_adapter_that_cannot_introspect_is_judged_without_it() -> None:
    from vetgrad.engine import Value

    class Opaque(Adapter):  # vetgrad behind an adapter that offers no derivative_graph
        name, supports_higher_order = "opaque", True
        inner = load_adapter("vetgrad.engine:Value")

        def leaf(self, x):
            return self.inner.leaf(x)

        def apply(self, op, args, params):
            return self.inner.apply(op, args, params)

        def value(self, node):
            return self.inner.value(node)

        def grad(self, node):
            return self.inner.grad(node)

        def backward(self, root):
            self.inner.backward(root)

        def grad_of(self, output, inputs, create_graph):
            return self.inner.grad_of(output, inputs, create_graph)

    assert Opaque().derivative_graph(Value(1.0)) == []
    graph = Graph((Node("leaf", value=0.4), Node("tanh", (0,)), Node("mul", (1, 1))))
    (result,) = Checker(Opaque(), "cpu", strict=False, higher_order=3).check([graph], [0])
    assert result.finding is None, result.finding.message
