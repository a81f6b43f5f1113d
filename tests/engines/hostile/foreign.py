"""Hostile engine: ops that return what is not a number node. A lecture-style ``Value`` whose
``x ** y`` returns a ``Foreign`` object (no ``data``; its ``__float__``, ``__repr__`` and
``__str__`` raise), whose ``tanh`` returns a Value whose ``data`` is a str, and whose ``exp`` of
a number below -2 (the probe's inputs pass) returns a masquerade that claims to be a Value
(``__class__``) and whose ``data`` raises an exception that cannot say itself. add, mul, neg and sub are
correct. Self-contained, so that ``--engine path/to/foreign.py:Value`` loads it as a learner's
file."""

import math


class UnprintableError(Exception):
    def __str__(self):
        raise RuntimeError("no words")


class Foreign:
    def __float__(self):
        raise RuntimeError("a Foreign is no number")

    def __repr__(self):
        raise RuntimeError("a Foreign has no repr")

    __str__ = __repr__


class Masquerade:
    @property
    def __class__(self):
        return Value

    @property
    def data(self):
        raise UnprintableError()

    grad = 0.0
    _prev = ()

    def backward(self):
        pass


class Value:
    def __init__(self, data, _children=(), _op=""):
        self.data = data
        self.grad = 0.0
        self._backward = lambda: None
        self._prev = tuple(_children)
        self._op = _op

    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data + other.data, (self, other), "+")

        def _backward():
            self.grad += out.grad
            other.grad += out.grad
        out._backward = _backward
        return out

    def __radd__(self, other):
        return self + other

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data * other.data, (self, other), "*")

        def _backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad
        out._backward = _backward
        return out

    def __rmul__(self, other):
        return self * other

    def __neg__(self):
        return self * -1

    def __sub__(self, other):
        return self + (-other)

    def __rsub__(self, other):
        return other + (-self)

    def __pow__(self, other):
        return Foreign()

    def tanh(self):
        return Value(str(math.tanh(self.data)), (self,), "tanh")

    def exp(self):
        if self.data < -2:
            return Masquerade()
        out = Value(math.exp(self.data), (self,), "exp")

        def _backward():
            self.grad += out.data * out.grad
        out._backward = _backward
        return out

    def backward(self):
        topo, seen, stack = [], set(), [(self, False)]
        while stack:
            node, done = stack.pop()
            if done:
                topo.append(node)
            elif id(node) not in seen:
                seen.add(id(node))
                stack.append((node, True))
                stack.extend((child, False) for child in node._prev)
        self.grad = 1.0
        for node in reversed(topo):
            node._backward()
