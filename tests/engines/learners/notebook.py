"""A correct engine spelled as one of the notebooks this project started from writes it: the number
is ``val``, the children a list ``children``, the op's label ``op``, the backward pass
``back_prop()``, and the constructor takes ``(val, children=None, op=None, grad=0)``. Otherwise
the lecture's engine (lecture.py): a recursive topological sort, ``_backward`` closures, tanh
through exp, ``**`` with numbers only, sub, div and neg built from add, mul and pow.

The harness recognises these names without an adapter (conformance.subject.adapters.detect_spelling).
"""

import math


class Value:
    def __init__(self, val, children=None, op=None, grad=0):
        self.val = val
        self.children = children or []
        self.op = op
        self.grad = grad
        self._backward = lambda: None

    def __repr__(self):
        return f"Value(val={self.val}, grad={self.grad})"

    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.val + other.val, [self, other], "+")

        def _backward():
            self.grad += out.grad
            other.grad += out.grad
        out._backward = _backward
        return out

    def __radd__(self, other):
        return self + other

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.val * other.val, [self, other], "*")

        def _backward():
            self.grad += other.val * out.grad
            other.grad += self.val * out.grad
        out._backward = _backward
        return out

    def __rmul__(self, other):
        return self * other

    def __pow__(self, n):
        assert isinstance(n, (int, float)), "only int/float powers"
        out = Value(self.val**n, [self], f"**{n}")

        def _backward():
            self.grad += n * self.val ** (n - 1) * out.grad
        out._backward = _backward
        return out

    def __neg__(self):
        return self * -1

    def __sub__(self, other):
        return self + (-other)

    def __rsub__(self, other):
        return other + (-self)

    def __truediv__(self, other):
        return self * other**-1

    def __rtruediv__(self, other):
        return other * self**-1

    def tanh(self):
        e = math.exp(2 * self.val)
        t = (e - 1) / (e + 1)
        out = Value(t, [self], "tanh")

        def _backward():
            self.grad += (1 - t**2) * out.grad
        out._backward = _backward
        return out

    def exp(self):
        out = Value(math.exp(self.val), [self], "exp")

        def _backward():
            self.grad += out.val * out.grad
        out._backward = _backward
        return out

    def relu(self):
        out = Value(self.val if self.val > 0 else 0, [self], "relu")

        def _backward():
            self.grad += (out.val > 0) * out.grad
        out._backward = _backward
        return out

    def back_prop(self):
        order = []
        seen = set()

        def visit(v):
            if v not in seen:
                seen.add(v)
                for child in v.children:
                    visit(child)
                order.append(v)
        visit(self)

        self.grad = 1
        for v in reversed(order):
            v._backward()
