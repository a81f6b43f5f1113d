"""vetgrad's engine: a zero-dependency scalar reverse-mode autograd with PyTorch's float64 semantics.

>>> from vetgrad.engine import Value
>>> a, b = Value(2.0, label="a"), Value(-3.0, label="b")
>>> c = a * b + 10.0
>>> c.backward()
>>> a.grad, b.grad
(-3.0, 2.0)
"""

from vetgrad.engine.autograd import (
    backward,
    enable_grad,
    grad,
    grad_is_set,
    is_grad_enabled,
    no_grad,
    topological_order,
    zero_grad,
    zero_grad_graph,
)
from vetgrad.engine.compiled import Compiled, compile
from vetgrad.engine.dot import draw_dot, to_dot
from vetgrad.engine.gradcheck import GradcheckError, gradcheck
from vetgrad.engine.ops import OPS, Op, public_ops
from vetgrad.engine.value import Value

__all__ = [
    "OPS",
    "Compiled",
    "GradcheckError",
    "Op",
    "Value",
    "backward",
    "compile",
    "draw_dot",
    "enable_grad",
    "grad",
    "grad_is_set",
    "gradcheck",
    "is_grad_enabled",
    "no_grad",
    "public_ops",
    "to_dot",
    "topological_order",
    "zero_grad",
    "zero_grad_graph",
]
from vetgrad import __version__  # noqa: F401 - one version, the package's
