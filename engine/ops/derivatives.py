"""torch's derivative formulas as ops of their own (derivatives.yaml: threshold_backward,
tanh_backward, ...), with derivatives of their own.

A VJP rule calls one through ``F.call``: on floats that is its forward; with ``create_graph`` it is
a node, so a gradient keeps torch's graph. relu's second derivative is then 0 (x stays in the graph
with a zero derivative) rather than "x unused", and tanh's is -2 * y * g * gg as torch's, not the
derivative of (1 - y)(1 + y), which cancels near 0. Their inputs: the incoming gradient, then what
the formula saved (input or result). No user calls them: they are not public.
"""

from __future__ import annotations

from vetgrad.engine import ieee
from vetgrad.engine.ops.row import Op

# -- relu_backward: threshold_backward(grad, result, 0) --------------------------------------------


def _relu_backward_fwd(g: float, out: float) -> float:
    # zero where the result is <= 0 (so nan passes grad)
    return 0.0 if out <= 0.0 else g


def _relu_backward(F, gg, g, out, res):
    return F.call(RELU_BACKWARD, gg, out), 0.0


RELU_BACKWARD = Op("relu_backward", 2, "relu_backward", _relu_backward_fwd, _relu_backward,
                   "torch's threshold_backward(grad, result, 0)",
                   kink=lambda g, out: g == 0.0 or out == 0.0)

# -- leaky_relu_backward ---------------------------------------------------------------------------


def _leaky_relu_backward_fwd(g: float, a: float, slope: float) -> float:
    return g if a > 0.0 else g * slope


def _leaky_relu_backward(F, gg, g, a, res, slope):
    return F.call(LEAKY_RELU_BACKWARD, gg, a, slope), 0.0


LEAKY_RELU_BACKWARD = Op("leaky_relu_backward", 2, "leaky_relu_backward", _leaky_relu_backward_fwd,
                         _leaky_relu_backward, "torch's leaky_relu_backward(grad, self, slope)",
                         params=(("slope", 0.01),))

# -- tanh_backward ---------------------------------------------------------------------------------


def _tanh_backward_fwd(g: float, out: float) -> float:
    # torch evaluates 1 - y*y with a fused multiply-add (exact product); (1 - y)(1 + y) matches it
    # where 1 - y*y would cancel catastrophically near saturation.
    return g * ((1.0 - out) * (1.0 + out))


def _tanh_backward(F, gg, g, out, res):
    return F.call(TANH_BACKWARD, gg, out), gg * (-2.0 * out * g)


TANH_BACKWARD = Op("tanh_backward", 2, "tanh_backward", _tanh_backward_fwd, _tanh_backward,
                   "torch's tanh_backward(grad, result)")

# -- sigmoid_backward ------------------------------------------------------------------------------


def _sigmoid_backward_fwd(g: float, out: float) -> float:
    return g * (1.0 - out) * out


def _sigmoid_backward(F, gg, g, out, res):
    return F.call(SIGMOID_BACKWARD, gg, out), gg * g * (-2.0 * out + 1.0)


SIGMOID_BACKWARD = Op("sigmoid_backward", 2, "sigmoid_backward", _sigmoid_backward_fwd,
                      _sigmoid_backward, "torch's sigmoid_backward(grad, result)")

# -- softplus_backward -----------------------------------------------------------------------------


def _softplus_backward_fwd(g: float, a: float) -> float:
    if a > ieee.SOFTPLUS_THRESHOLD:
        return g
    z = ieee.exp(a)
    return g * z / (z + 1.0)


def _softplus_backward(F, gg, g, a, res):
    # softplus_double_backward(grad * grad_output, self): its mask is x < threshold, where the
    # forward's is x > threshold, so at x = 20 exactly the second derivative is 0 in torch.
    below = F.val(a) < ieee.SOFTPLUS_THRESHOLD
    return (F.call(SOFTPLUS_BACKWARD, gg, a),
            F.call(SIGMOID_BACKWARD, gg * g, F.sigmoid(a)) * (1.0 if below else 0.0))


SOFTPLUS_BACKWARD = Op("softplus_backward", 2, "softplus_backward", _softplus_backward_fwd,
                       _softplus_backward, "torch's softplus_backward(grad, self, 1, 20)")

# -- piecewise constant: derivative 0 --------------------------------------------------------------


def _zero_derivative(F, g, a, out):
    return 0.0


def _zero_derivatives(F, g, a, b, out):
    return 0.0, 0.0  # torch: zeros, even for a nan or inf gradient


SGN = Op("sgn", 1, "sgn", ieee.sign, _zero_derivative, "torch.sgn: -1, 0 or 1 (derivative 0)",
         numpy=("sgn({a})", ("0.0",)))
DIV_FLOOR = Op("div_floor", 2, "div_floor", ieee.floor_divide, _zero_derivatives,
               "torch.div(a, b, rounding_mode='floor') (derivative 0)",
               numpy=("floor_divide({a}, {b})", ("0.0", "0.0")))

BACKWARD_OPS = (RELU_BACKWARD, LEAKY_RELU_BACKWARD, TANH_BACKWARD, SIGMOID_BACKWARD, SOFTPLUS_BACKWARD,
                SGN, DIV_FLOOR)
"""torch's derivative formulas, in the table's order."""
