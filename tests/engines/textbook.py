"""A micrograd-style engine written from the textbook, with PyTorch's float64 semantics.

This is the *specimen* for the harness self-test (tests/test_harness_power.py): an independent,
plain implementation in the closure style of karpathy/micrograd (each op builds its output and a
``_backward`` closure, forward and derivative side by side). tests/engines/mutants.py derives
realistic one-bug variants of it by editing this source text, so every line below is written to be
found by an exact string replacement: keep each statement on one line and unique.

Where Python's ``math`` raises (or ``**`` goes complex) torch returns inf or nan, so every forward
and derivative goes through the small IEEE-safe helpers at the top. Conventions at kinks, ties and
domain edges are torch's (tools/autograd/derivatives.yaml).
"""

from __future__ import annotations

import math

inf, nan = math.inf, math.nan
SOFTPLUS_THRESHOLD = 20.0  # torch.nn.functional.softplus(x, beta=1, threshold=20): linear above it


# -- IEEE-safe helpers: what C99 libm (and so torch) returns instead of raising -----------------


def safe_div(a, b):
    """a / b; x/0 is ±inf (sign of a times sign of the zero), 0/0 and nan/0 are nan."""
    if b != 0.0:
        return a / b
    if a != a or a == 0.0:
        return nan
    return math.copysign(inf, a) * math.copysign(1.0, b)


def is_odd_integer(y):
    return math.isfinite(y) and y.is_integer() and y % 2.0 == 1.0


def safe_pow(x, y):
    """C99 pow: overflow is ±inf, 0 ** negative is ±inf, negative ** fraction is nan."""
    try:
        return math.pow(x, y)
    except OverflowError:
        return -inf if x < 0.0 and is_odd_integer(y) else inf
    except ValueError:
        if x == 0.0:
            return math.copysign(inf, x) if is_odd_integer(y) else inf
        return nan


def scalar_pow(x, n):
    """torch.pow(Tensor, Scalar): exponents 0.5 and -0.5 are computed as sqrt and 1 / sqrt."""
    if n == 0.5:
        return safe_sqrt(x)
    if n == -0.5:
        return safe_div(1.0, safe_sqrt(x))
    return safe_pow(x, n)


def safe_exp(x):
    try:
        return math.exp(x)
    except OverflowError:
        return inf


def safe_log(x):
    if x > 0.0:
        return math.log(x)
    return -inf if x == 0.0 else nan


def safe_log1p(x):
    """log(1 + x): -inf at -1, nan below."""
    if x > -1.0:
        return math.log1p(x)
    return -inf if x == -1.0 else nan


def safe_expm1(x):
    try:
        return math.expm1(x)
    except OverflowError:
        return inf


def safe_sqrt(x):
    return math.sqrt(x) if x >= 0.0 else nan


def safe_sin(x):
    return nan if math.isinf(x) else math.sin(x)


def safe_cos(x):
    return nan if math.isinf(x) else math.cos(x)


def sign(x):
    """torch.sgn: 0 for ±0 and for nan."""
    return 1.0 if x > 0.0 else -1.0 if x < 0.0 else 0.0


def floor_divide(a, b):
    """torch.floor_divide: Python's float // (same algorithm), but x // 0 is the IEEE quotient."""
    if b == 0.0:
        return safe_div(a, b)
    return a // b


def remainder(a, b):
    """torch.remainder: C fmod, moved into the divisor's sign; nan for b == 0 or infinite a."""
    if b == 0.0 or a != a or b != b or math.isinf(a):
        return nan
    r = math.fmod(a, b)
    if r != 0.0 and (r < 0.0) != (b < 0.0):
        r += b
    return r


# -- the engine --------------------------------------------------------------------------------


class Value:
    """A scalar with a gradient; operators record a graph that ``backward()`` walks."""

    def __init__(self, data, _children=(), _op=""):
        self.data = float(data)
        self.grad = 0.0
        self._backward = lambda: None
        self._prev = tuple(_children)
        self._op = _op

    def __repr__(self):
        return f"Value(data={self.data}, grad={self.grad})"

    # -- arithmetic -----------------------------------------------------------------------------

    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data + other.data, (self, other), "+")

        def _backward():
            self.grad += out.grad
            other.grad += out.grad

        out._backward = _backward
        return out

    def __sub__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data - other.data, (self, other), "-")

        def _backward():
            self.grad += out.grad
            other.grad += -out.grad

        out._backward = _backward
        return out

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data * other.data, (self, other), "*")

        def _backward():
            self.grad += out.grad * other.data
            other.grad += out.grad * self.data

        out._backward = _backward
        return out

    def __truediv__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(safe_div(self.data, other.data), (self, other), "/")

        def _backward():
            self.grad += safe_div(out.grad, other.data)
            other.grad += -out.grad * safe_div(safe_div(self.data, other.data), other.data)

        out._backward = _backward
        return out

    def __pow__(self, other):
        if isinstance(other, Value):
            return self._pow_values(other)
        n = float(other)
        out = Value(scalar_pow(self.data, n), (self,), f"**{other}")

        def _backward():
            self.grad += 0.0 if n == 0.0 else out.grad * (n * scalar_pow(self.data, n - 1.0))

        out._backward = _backward
        return out

    def _pow_values(self, other):
        a, b = self.data, other.data
        out = Value(safe_pow(a, b), (self, other), "**")

        def _backward():
            self.grad += 0.0 if b == 0.0 else out.grad * (b * safe_pow(a, b - 1.0))
            other.grad += out.grad * (0.0 if a == 0.0 and b >= 0.0 else out.data * safe_log(a))

        out._backward = _backward
        return out

    def __floordiv__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(floor_divide(self.data, other.data), (self, other), "//")

        def _backward():
            raise RuntimeError("derivative for floor_divide is not implemented (as in torch)")

        out._backward = _backward
        return out

    def __mod__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(remainder(self.data, other.data), (self, other), "%")

        def _backward():
            self.grad += out.grad
            other.grad += -out.grad * floor_divide(self.data, other.data)

        out._backward = _backward
        return out

    def __neg__(self):
        out = Value(-self.data, (self,), "neg")

        def _backward():
            self.grad += -out.grad

        out._backward = _backward
        return out

    def __abs__(self):
        out = Value(abs(self.data), (self,), "abs")

        def _backward():
            self.grad += out.grad * sign(self.data)

        out._backward = _backward
        return out

    # Reflected operators: a plain number on the left.
    def __radd__(self, other):
        return Value(other) + self

    def __rsub__(self, other):
        return Value(other) - self

    def __rmul__(self, other):
        return Value(other) * self

    def __rtruediv__(self, other):
        return Value(other) / self

    def __rpow__(self, other):
        return Value(other)._pow_values(self)

    def __rfloordiv__(self, other):
        return Value(other) // self

    def __rmod__(self, other):
        return Value(other) % self

    # -- functions ------------------------------------------------------------------------------

    def _unary(self, data, op, local_grad):
        """Output node whose derivative is ``local_grad(out)`` times the upstream gradient."""
        out = Value(data, (self,), op)

        def _backward():
            self.grad += local_grad(out)

        out._backward = _backward
        return out

    def exp(self):
        return self._unary(safe_exp(self.data), "exp", lambda out: out.grad * out.data)

    def log(self):
        return self._unary(safe_log(self.data), "log", lambda out: safe_div(out.grad, self.data))

    def log1p(self):
        return self._unary(safe_log1p(self.data), "log1p", lambda out: safe_div(out.grad, self.data + 1.0))

    def expm1(self):
        return self._unary(safe_expm1(self.data), "expm1", lambda out: out.grad * (out.data + 1.0))

    def atan(self):
        return self._unary(math.atan(self.data), "atan", lambda out: safe_div(out.grad, self.data * self.data + 1.0))

    def atan2(self, other):
        other = other if isinstance(other, Value) else Value(other)
        a, b = self.data, other.data
        out = Value(math.atan2(a, b), (self, other), "atan2")

        def _backward():
            # d/da = b / (a² + b²), d/db = -a / (a² + b²); torch takes 0 for 1 / 0 at the origin.
            r2 = a * a + b * b
            inv = 0.0 if r2 == 0.0 else 1.0 / r2
            self.grad += out.grad * b * inv
            other.grad += out.grad * -a * inv

        out._backward = _backward
        return out

    def sqrt(self):
        return self._unary(safe_sqrt(self.data), "sqrt", lambda out: out.grad * safe_div(0.5, out.data))

    def sin(self):
        return self._unary(safe_sin(self.data), "sin", lambda out: out.grad * safe_cos(self.data))

    def cos(self):
        return self._unary(safe_cos(self.data), "cos", lambda out: out.grad * -safe_sin(self.data))

    def tanh(self):
        return self._unary(math.tanh(self.data), "tanh", lambda out: out.grad * (1.0 - out.data**2))

    def sigmoid(self):
        s = 1.0 / (1.0 + safe_exp(-self.data))
        return self._unary(s, "sigmoid", lambda out: out.grad * (1.0 - out.data) * out.data)

    def relu(self):
        # relu(-0.0) is -0.0 and relu(nan) is nan; the gradient is 0 where the result is <= 0.
        x = self.data
        return self._unary(0.0 if x < 0.0 else x, "ReLU", lambda out: 0.0 if out.data <= 0.0 else out.grad)

    def leaky_relu(self, slope=0.01):
        x = self.data
        return self._unary(x if x > 0.0 else x * slope, "leaky_relu", lambda out: out.grad if x > 0.0 else out.grad * slope)

    def softplus(self):
        x = self.data
        data = x if x > SOFTPLUS_THRESHOLD else math.log1p(safe_exp(x))

        def local_grad(out):
            if x > SOFTPLUS_THRESHOLD:
                return out.grad
            z = safe_exp(x)
            return out.grad * z / (z + 1.0)

        return self._unary(data, "softplus", local_grad)

    def clamp(self, lo=None, hi=None):
        # nan stays nan; with lo > hi every value becomes hi. Bounds are inclusive for the grad.
        x = self.data
        data = x
        if x == x and lo is not None and x < lo:
            data = lo
        if x == x and hi is not None and data > hi:
            data = hi
        inside = x == x and (lo is None or x >= lo) and (hi is None or x <= hi)
        return self._unary(data, "clamp", lambda out: out.grad if inside else 0.0)

    def maximum(self, other):
        other = other if isinstance(other, Value) else Value(other)
        a, b = self.data, other.data
        out = Value(nan if a != a or b != b else a if a >= b else b, (self, other), "maximum")

        def _backward():
            # A tie splits the gradient; a nan on either side gives both the full gradient.
            if a == b:
                self.grad += out.grad / 2
                other.grad += out.grad / 2
            else:
                self.grad += 0.0 if a < b else out.grad
                other.grad += 0.0 if a > b else out.grad

        out._backward = _backward
        return out

    def minimum(self, other):
        other = other if isinstance(other, Value) else Value(other)
        a, b = self.data, other.data
        out = Value(nan if a != a or b != b else a if a <= b else b, (self, other), "minimum")

        def _backward():
            if a == b:
                self.grad += out.grad / 2
                other.grad += out.grad / 2
            else:
                self.grad += 0.0 if a > b else out.grad
                other.grad += 0.0 if a < b else out.grad

        out._backward = _backward
        return out

    # -- backpropagation ------------------------------------------------------------------------

    def backward(self):
        # Iterative depth-first topological sort: every node comes after all of its inputs.
        topo, visited = [], set()
        stack = [(self, False)]
        while stack:
            node, inputs_done = stack.pop()
            if inputs_done:
                topo.append(node)
            elif id(node) not in visited:
                visited.add(id(node))
                stack.append((node, True))
                stack.extend((child, False) for child in reversed(node._prev) if id(child) not in visited)
        # Each call propagates fresh gradients (nothing counted twice) and then adds them to what
        # earlier calls left, as torch does. A pass starts every node at -0.0, the additive
        # identity that keeps the sign of a zero gradient (torch assigns its first contribution).
        before = [v.grad for v in topo]
        for v in topo:
            v.grad = -0.0
        self.grad = 1.0
        try:
            for v in reversed(topo):
                v._backward()
        except Exception:
            for v, g in zip(topo, before):
                v.grad = g
            raise
        for v, g in zip(topo, before):
            v.grad = g + v.grad if g != 0.0 else v.grad
