"""Mutants of the textbook engine: each is tests/engines/textbook.py with ONE realistic bug.

A mutant is a single exact string replacement in the textbook's source text (the old text must occur
exactly once), executed as a fresh module. The harness self-test (tests/test_harness_power.py)
checks that the conformance harness tells every mutant apart from the textbook engine.

The modules are registered in ``sys.modules`` under private names, because the harness's adapter
imports ``cls.__module__``; ``"<module>:Value"`` strings therefore work too (see :func:`spec`).
"""

from __future__ import annotations

import sys
import types
from pathlib import Path

TEXTBOOK_PATH = Path(__file__).with_name("textbook.py")
_MODULE_PREFIX = "_vetgrad_engine_"

# The tail of Value.backward() in the textbook (pass-local gradients, added to earlier passes).
_FRESH_PASS = """        before = [v.grad for v in topo]
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
"""

_MAX_TIE = """            if a == b:
                self.grad += out.grad / 2
                other.grad += out.grad / 2
            else:
                self.grad += 0.0 if a < b else out.grad
                other.grad += 0.0 if a > b else out.grad
"""

# name -> (old text, new text, one-line description)
_CATALOG: dict[str, tuple[str, str, str]] = {
    # -- wrong derivative formulas --------------------------------------------------------------
    "tanh_grad_1_minus_t": (
        "out.grad * (1.0 - out.data**2)", "out.grad * (1.0 - out.data)",
        "tanh' = 1 - t instead of 1 - t**2"),
    "sigmoid_grad_s": (
        "out.grad * (1.0 - out.data) * out.data", "out.grad * out.data",
        "sigmoid' = s instead of s * (1 - s)"),
    "log_grad_x": (
        "safe_div(out.grad, self.data)", "out.grad * self.data",
        "log' = x instead of 1 / x"),
    "sqrt_grad_no_half": (
        "out.grad * safe_div(0.5, out.data)", "out.grad * safe_div(1.0, out.data)",
        "sqrt' = 1 / sqrt(x): the factor 0.5 is missing"),
    "sin_grad_minus_cos": (
        "out.grad * safe_cos(self.data)", "out.grad * -safe_cos(self.data)",
        "sin' = -cos"),
    "cos_grad_sin": (
        "out.grad * -safe_sin(self.data)", "out.grad * safe_sin(self.data)",
        "cos' = +sin (sign lost)"),
    "exp_grad_1": (
        "lambda out: out.grad * out.data)", "lambda out: out.grad)",
        "exp' = 1 instead of exp(x)"),
    "mul_grads_swapped": (
        "self.grad += out.grad * other.data\n            other.grad += out.grad * self.data",
        "self.grad += out.grad * self.data\n            other.grad += out.grad * other.data",
        "mul: each operand gets its own value as derivative (grads swapped)"),
    "sub_other_grad_sign": (
        "other.grad += -out.grad\n", "other.grad += out.grad\n",
        "sub: d(a - b)/db = +1"),
    "sub_grads_swapped": (
        "self.grad += out.grad\n            other.grad += -out.grad\n",
        "self.grad += -out.grad\n            other.grad += out.grad\n",
        "sub: both derivatives' signs swapped (d/da = -1, d/db = +1): x - x hides it"),
    "div_other_grad_sign": (
        "other.grad += -out.grad * safe_div(", "other.grad += out.grad * safe_div(",
        "div: d(a / b)/db = +a / b**2 (sign lost)"),
    "pow_exponent_grad_missing": (
        "\n            other.grad += out.grad * (0.0 if a == 0.0 and b >= 0.0 else out.data * safe_log(a))", "",
        "pow(a, b): no gradient flows to the exponent b"),
    "mod_other_grad_plus_floor": (
        "other.grad += -out.grad * floor_divide(", "other.grad += out.grad * floor_divide(",
        "remainder: d(a % b)/db = +floor(a / b) instead of -floor(a / b)"),
    "leaky_relu_slope_on_positive_side": (
        "lambda out: out.grad if x > 0.0 else out.grad * slope", "lambda out: out.grad * slope if x > 0.0 else out.grad",
        "leaky_relu' = slope for x > 0 and 1 below (branches swapped)"),
    # -- structural bugs of backward() ----------------------------------------------------------
    "add_assigns_grad": (
        "self.grad += out.grad\n            other.grad += out.grad\n",
        "self.grad = out.grad\n            other.grad = out.grad\n",
        "add: grad = instead of += (a node used twice loses a contribution; a + a gets 1)"),
    "topo_reversed": (
        "for v in reversed(topo):", "for v in topo:",
        "backward walks the topological order inputs-first"),
    "topo_no_visited_set": (
        "elif id(node) not in visited:", "else:",
        "topological sort without a visited check: shared nodes are back-propagated once per path"),
    "no_reset_between_calls": (
        _FRESH_PASS, "        self.grad = 1.0\n        for v in reversed(topo):\n            v._backward()\n",
        "micrograd's backward(): grads are not reset per call (a 2nd call double counts; -0.0 lost)"),
    # -- torch's conventions at kinks, ties and nan ----------------------------------------------
    "relu_grad_1_at_0": (
        "lambda out: 0.0 if out.data <= 0.0 else out.grad", "lambda out: out.grad if x >= 0.0 else 0.0",
        "relu'(0) = 1 (tested on the input, x >= 0)"),
    "abs_grad_1_at_0": (
        "out.grad * sign(self.data)", "out.grad * (1.0 if self.data >= 0.0 else -1.0)",
        "abs'(0) = 1 (and abs'(nan) = -1)"),
    "maximum_tie_to_self": (
        _MAX_TIE,
        "            self.grad += out.grad if a >= b else 0.0\n            other.grad += 0.0 if a >= b else out.grad\n",
        "maximum: a tie gives the whole gradient to the first operand"),
    "maximum_ignores_nan": (
        "nan if a != a or b != b else a if a >= b else b", "a if a >= b else b",
        "maximum(nan, x) = x: nan does not propagate (Python's max)"),
    "clamp_bounds_exclusive": (
        "(lo is None or x >= lo) and (hi is None or x <= hi)", "(lo is None or x > lo) and (hi is None or x < hi)",
        "clamp: gradient 0 at the bounds (torch: 1)"),
    "softplus_threshold_10": (
        "SOFTPLUS_THRESHOLD = 20.0", "SOFTPLUS_THRESHOLD = 10.0",
        "softplus is linear (value x, grad 1) above 10 instead of torch's 20"),
    "pow_scalar_grad_at_exponent_0": (
        "self.grad += 0.0 if n == 0.0 else out.grad * (n * scalar_pow(self.data, n - 1.0))",
        "self.grad += out.grad * (n * scalar_pow(self.data, n - 1.0))",
        "x ** 0: textbook n * x**(n-1), nan at x = 0 (torch: 0 everywhere)"),
    # -- Python exceptions (or complex numbers) where torch gives inf/nan -------------------------
    "div_zero_raises": (
        "Value(safe_div(self.data, other.data), (self, other)", "Value(self.data / other.data, (self, other)",
        "x / 0 raises ZeroDivisionError (torch: ±inf or nan)"),
    "log_zero_raises": (
        "safe_log(self.data), \"log\"", "math.log(self.data), \"log\"",
        "log(0) and log(-1) raise ValueError (torch: -inf, nan)"),
    "exp_overflow_raises": (
        "safe_exp(self.data), \"exp\"", "math.exp(self.data), \"exp\"",
        "exp(710) raises OverflowError (torch: inf)"),
    "sigmoid_overflow_raises": (
        "s = 1.0 / (1.0 + safe_exp(-self.data))", "s = 1.0 / (1.0 + math.exp(-self.data))",
        "sigmoid(-1000) raises OverflowError (torch: 0)"),
    "sqrt_as_pow_half": (
        "safe_sqrt(self.data), \"sqrt\"", "self.data**0.5, \"sqrt\"",
        "sqrt(x) = x ** 0.5: a complex number for x < 0 (torch: nan)"),
    "mod_python_percent": (
        "Value(remainder(self.data, other.data)", "Value(self.data % other.data",
        "a % b with Python's float %: raises for b == 0, zero takes the divisor's sign"),
    # -- reflected operators --------------------------------------------------------------------
    "rsub_swapped": (
        "return Value(other) - self", "return self - Value(other)",
        "2 - x computes x - 2"),
    "rtruediv_swapped": (
        "return Value(other) / self", "return self / Value(other)",
        "2 / x computes x / 2"),
    "rpow_swapped": (
        "return Value(other)._pow_values(self)", "return self ** other",
        "2 ** x computes x ** 2"),
    # -- one node as both operands (x * x, a + a): a shortcut the engine takes for aliasing -------
    "square_shortcut_sign": (
        "    def __mul__(self, other):\n",
        "    def __mul__(self, other):\n        if other is self:\n"
        "            out = Value(abs(self.data) * self.data, (self,), \"*\")\n\n"
        "            def _backward():\n                self.grad += out.grad * 2.0 * self.data\n\n"
        "            out._backward = _backward\n            return out\n",
        "x * x (the same node) is |x| * x: the wrong sign for x < 0 (its gradient is right)"),
    "double_shortcut_value": (
        "    def __add__(self, other):\n",
        "    def __add__(self, other):\n        if other is self:\n"
        "            out = Value(3.0 * self.data, (self,), \"+\")\n\n"
        "            def _backward():\n                self.grad += 2.0 * out.grad\n\n"
        "            out._backward = _backward\n            return out\n",
        "a + a (the same node) is 3a (its gradient is right)"),
    "sub_self_folded": (
        "    def __sub__(self, other):\n",
        "    def __sub__(self, other):\n        if other is self:\n            return Value(0.0)\n",
        "x - x is folded to 0 (torch: nan for x = inf or nan)"),
    # -- plain-number operands as users write them: ints, integer exponents --------------------
    "rmul_int_adds": (
        "    def __rmul__(self, other):\n        return Value(other) * self\n",
        "    def __rmul__(self, other):\n        if isinstance(other, int):\n"
        "            return Value(other) + self\n        return Value(other) * self\n",
        "2 * x with an int 2 computes 2 + x"),
    "pow_integer_exponent_grad": (
        "out.grad * (n * scalar_pow(self.data, n - 1.0))",
        "out.grad * (((n - 1.0) if (n.is_integer() and 3.0 <= n <= 10.0) else n)"
        " * scalar_pow(self.data, n - 1.0))",
        "x ** c for an integer c in 3..10: the gradient's factor is c - 1"),
    # -- broken ops must fail, not pass as ops the engine does not have -----------------------
    "sqrt_always_nan": (
        "safe_sqrt(self.data), \"sqrt\"", "safe_sqrt(-self.data), \"sqrt\"",
        "sqrt(x) is sqrt(-x): nan for every positive x"),
    "abs_returns_float": (
        "    def __abs__(self):\n", "    def __abs__(self):\n        return abs(self.data)\n\n"
        "    def _abs_unused(self):\n",
        "abs(x) returns a plain float: no node, the gradient is lost"),
    "mul_constant_backward_crashes": (
        "    def __mul__(self, other):\n        other = other if isinstance(other, Value) else Value(other)\n"
        "        out = Value(self.data * other.data, (self, other), \"*\")\n\n"
        "        def _backward():\n            self.grad += out.grad * other.data\n"
        "            other.grad += out.grad * self.data\n",
        "    def __mul__(self, other):\n        od = other.data if isinstance(other, Value) else other\n"
        "        out = Value(self.data * od, (self, other) if isinstance(other, Value) else (self,), \"*\")\n\n"
        "        def _backward():\n            self.grad += out.grad * other.data\n"
        "            if isinstance(other, Value):\n                other.grad += out.grad * self.data\n",
        "x * 2.0 keeps 2.0 unwrapped, and its backward raises AttributeError"),
    # -- tiny precision errors: one op off by a relative 1e-6 (default mode) or 1e-9 (--strict) ----
    "inject_value_1e6": (
        "Value(self.data * other.data, ", "Value(self.data * other.data * (1 + 1e-6), ",
        "mul's value is off by a relative 1e-6"),
    "inject_grad_1e6": (
        "self.grad += out.grad * other.data\n", "self.grad += out.grad * other.data * (1 + 1e-6)\n",
        "mul's first-operand derivative is off by a relative 1e-6"),
    "inject_value_1e9": (
        "Value(self.data * other.data, ", "Value(self.data * other.data * (1 + 1e-9), ",
        "mul's value is off by a relative 1e-9 (only --strict should flag it)"),
    "inject_grad_1e9": (
        "self.grad += out.grad * other.data\n", "self.grad += out.grad * other.data * (1 + 1e-9)\n",
        "mul's first-operand derivative is off by a relative 1e-9 (only --strict should flag it)"),
}

MUTANTS: dict[str, tuple[str, str]] = {name: (old, new) for name, (old, new, _) in _CATALOG.items()}
"""Mutant name -> (old text, new text) of its single replacement in textbook.py."""

DESCRIPTIONS: dict[str, str] = {name: text for name, (_, _, text) in _CATALOG.items()}
"""Mutant name -> one-line description of its bug."""

STRICT_ONLY: frozenset[str] = frozenset({"inject_value_1e9", "inject_grad_1e9"})
"""Mutants whose error is below the default mode's tolerance: only ``strict=True`` flags them."""

INJECTED_OP: dict[str, str] = {name: "mul" for name in _CATALOG if name.startswith("inject_")}
"""Precision mutants -> the op their error is in: a finding elsewhere is not a catch of that error
(a 1e-6 change of one gradient can move rounding noise elsewhere in the graph)."""

LEVEL: dict[str, str] = dict.fromkeys(_CATALOG, "math") | {
    "no_reset_between_calls": "robust",
    "maximum_ignores_nan": "robust",
    "pow_scalar_grad_at_exponent_0": "torch",  # torch masks 0 * x**-1 at x = 0 with where()
    "div_zero_raises": "robust",
    "log_zero_raises": "robust",
    "exp_overflow_raises": "robust",
    "sigmoid_overflow_raises": "robust",
    "sqrt_as_pow_half": "robust",
    "mod_python_percent": "robust",
    "sub_self_folded": "robust",
    "relu_grad_1_at_0": "torch",
    "abs_grad_1_at_0": "torch",
    "maximum_tie_to_self": "torch",
    "clamp_bounds_exclusive": "torch",
}
"""Mutant name -> the level of the ladder its bug belongs to (docs/ladder.md): the harness must catch
it there and pass it at every level below."""

BUGGY_OP: dict[str, str] = {name: name.split("_")[0] for name in _CATALOG
                            if name.split("_")[0] in {
                                "tanh", "sigmoid", "log", "sqrt", "sin", "cos", "exp", "mul",
                                "sub", "div", "pow", "mod", "leaky", "relu", "abs", "maximum",
                                "clamp", "softplus"}} | {"leaky_relu_slope_on_positive_side": "leaky_relu",
                                                         "rsub_swapped": "sub", "rtruediv_swapped": "div",
                                                         "rpow_swapped": "pow", "rmul_int_adds": "mul",
                                                         "square_shortcut_sign": "mul",
                                                         "double_shortcut_value": "add",
                                                         "sub_self_folded": "sub",
                                                         "pow_integer_exponent_grad": "pow",
                                                         "abs_returns_float": "abs"}
"""Mutant name -> the op that holds its bug, where one does: the first finding must name it."""

_loaded: dict[str, type] = {}


def textbook_source() -> str:
    return TEXTBOOK_PATH.read_text(encoding="utf-8")


def mutant_source(name: str) -> str:
    """The textbook's source with mutant ``name``'s single replacement applied."""
    old, new = MUTANTS[name]
    source = textbook_source()
    count = source.count(old)
    assert count == 1, f"mutant {name!r}: the old text occurs {count} times in textbook.py, not once"
    return source.replace(old, new)


def module_name(name: str | None) -> str:
    """The ``sys.modules`` name of the textbook (None) or of a mutant."""
    return _MODULE_PREFIX + ("textbook" if name is None else "mutant_" + name)


def _register(key: str, source: str, doc: str) -> type:
    """Execute ``source`` as module ``key`` (registered in ``sys.modules``); its ``Value``."""
    module = types.ModuleType(key, doc)
    module.__file__ = str(TEXTBOOK_PATH)
    module.__vetgrad_source__ = source  # how the harness's engine process gets the module
    sys.modules[key] = module  # the harness's adapter imports cls.__module__
    exec(compile(source, f"<{key}>", "exec"), module.__dict__)
    return module.Value


def _load(name: str | None) -> type:
    key = module_name(name)
    cls = _loaded.get(key)
    if cls is None or key not in sys.modules:  # (a pytester test drops the modules it registered)
        source = textbook_source() if name is None else mutant_source(name)
        cls = _loaded[key] = _register(
            key, source, f"textbook engine{'' if name is None else ' mutant ' + name}")
    return cls


def variant(key: str, *edits: tuple[str, str]) -> type:
    """The textbook's ``Value`` with ``edits`` (each old text occurring once) applied, loaded as
    module ``key`` once: a test's own engine that the harness's engine process can load too."""
    if key not in sys.modules:
        source = textbook_source()
        for old, new in edits:
            count = source.count(old)
            assert count == 1, f"variant {key!r}: {old!r} occurs {count} times in textbook.py"
            source = source.replace(old, new)
        _register(key, source, f"textbook engine variant {key}")
    return sys.modules[key].Value  # type: ignore[no-any-return]


def load_textbook() -> type:
    """The unmutated textbook ``Value`` class."""
    return _load(None)


def load_mutant(name: str) -> type:
    """The ``Value`` class of mutant ``name`` (a key of :data:`MUTANTS`)."""
    if name not in MUTANTS:
        raise KeyError(f"unknown mutant {name!r}; known: {', '.join(MUTANTS)}")
    return _load(name)


def spec(name: str | None = None) -> str:
    """A ``module:attr`` string for the harness (the module is loaded and registered first)."""
    _load(name)
    return module_name(name) + ":Value"
