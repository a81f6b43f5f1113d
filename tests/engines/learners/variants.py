"""Variants of the lecture engine (lecture.py): each is one learner's bug made by exact string
replacement in its source (each old text must occur exactly once), like tests/engines/mutants.py
does for the textbook engine.

A variant is executed as a fresh module registered in ``sys.modules`` under a private name and
keeps its source in ``__vetgrad_source__``, so the harness's engine process can load it from a
``"<module>:Value"`` string (:func:`spec`); :func:`write_variant` writes it as a file instead, for
``python -m vetgrad.conformance --engine FILE:Value``. The learners' own engine files (:data:`LEARNERS`)
are made the same way, each with its own docstring: :func:`write_learner`, :func:`load_learner`.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path

LECTURE_PATH = Path(__file__).with_name("lecture.py")
_MODULE_PREFIX = "_vetgrad_learner_"

_ADD = "self.grad += 1.0 * out.grad\n            other.grad += 1.0 * out.grad\n"
_MUL = "self.grad += other.data * out.grad\n            other.grad += self.data * out.grad\n"
_POW = "self.grad += other * (self.data ** (other - 1)) * out.grad\n"
_TANH = "self.grad += (1 - t**2) * out.grad\n"
_EXP = "self.grad += out.data * out.grad\n"
_RELU = "self.grad += (out.data > 0) * out.grad\n"


def _assign(text: str) -> str:
    return text.replace(".grad +=", ".grad =")


# name -> (edits, the op the bug is in (the harness's name; "graph" for backward()), description)
_CATALOG: dict[str, tuple[tuple[tuple[str, str], ...], str, str]] = {
    "eq_add": (((_ADD, _assign(_ADD)),), "add",
               "add's backward sets both operands' .grad (= where += belongs)"),
    "eq_add_self": (((_ADD, _ADD.replace("self.grad +=", "self.grad =")),), "add",
                    "add's backward sets the first operand's .grad (= where += belongs)"),
    "eq_add_other": (((_ADD, _ADD.replace("other.grad +=", "other.grad =")),), "add",
                     "add's backward sets the second operand's .grad (= where += belongs)"),
    "eq_mul": (((_MUL, _assign(_MUL)),), "mul",
               "mul's backward sets both operands' .grad (= where += belongs)"),
    "eq_mul_self": (((_MUL, _MUL.replace("self.grad +=", "self.grad =")),), "mul",
                    "mul's backward sets the first operand's .grad (= where += belongs)"),
    "eq_mul_other": (((_MUL, _MUL.replace("other.grad +=", "other.grad =")),), "mul",
                     "mul's backward sets the second operand's .grad (= where += belongs)"),
    "eq_pow": (((_POW, _assign(_POW)),), "pow", "pow's backward sets the base's .grad (= where += belongs)"),
    "eq_tanh": (((_TANH, _assign(_TANH)),), "tanh",
                "tanh's backward sets the input's .grad (= where += belongs): the lecture's own bug"),
    "eq_exp": (((_EXP, _assign(_EXP)),), "exp", "exp's backward sets the input's .grad (= where += belongs)"),
    "eq_relu": (((_RELU, _assign(_RELU)),), "relu", "relu's backward sets the input's .grad (= where += belongs)"),
    "topo_unreversed": ((("for node in reversed(topo):", "for node in topo:"),), "graph",
                        "backward() walks the topological order inputs first (reversed() left out)"),
    "grad_starts_at_1": ((("        self.grad = 0.0\n", "        self.grad = 1.0\n"),), "graph",
                         "a new Value's .grad starts at 1.0"),
    "no_seed": ((("        self.grad = 1.0\n        for node", "        for node"),), "graph",
                "backward() does not set self.grad = 1.0 before the walk"),
    "no_walk": ((("        for node in reversed(topo):\n            node._backward()\n", ""),), "graph",
                "backward() builds the order but never calls a node's _backward()"),
    "topo_undefined": ((("        topo = []\n", ""),), "graph",
                       "backward(): the line topo = [] deleted (NameError in the walk)"),
    "no_default_backward": ((("        self._backward = lambda: None\n", ""),), "graph",
                            "a leaf has no _backward (AttributeError in the walk)"),
    "prev_tuple": ((("self._prev = set(_children)", "self._prev = tuple(_children)"),), "",
                   "_prev is a tuple, not a set: the same correct engine, in a fixed order"),
}

VARIANTS: dict[str, tuple[tuple[str, str], ...]] = {name: edits for name, (edits, _, _) in _CATALOG.items()}
"""Variant name -> its (old text, new text) replacements in lecture.py."""

BUGGY_OP: dict[str, str] = {name: op for name, (_, op, _) in _CATALOG.items() if op}
"""Variant name -> the op that holds its bug ("graph": backward() itself); the correct variants
(prev_tuple) have none."""

DESCRIPTIONS: dict[str, str] = {name: text for name, (_, _, text) in _CATALOG.items()}

EQ_BUG: tuple[str, ...] = tuple(name for name in _CATALOG if name.startswith("eq_"))
"""The ``=`` for ``+=`` variants, one op (or one operand of it) each."""

CORRECT: frozenset[str] = frozenset(name for name, (_, op, _) in _CATALOG.items() if not op)
"""Variants that are still correct engines."""


# Engines as learners write them, each a file of its own (made from lecture.py, as it would be
# written by hand): name -> (its docstring, its edits to lecture.py's code).
_LEARNERS: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {
    'exp_math_self': (
        'A lecture-style engine whose exp passes the node itself to math.exp: ``math.exp(self)`` raises\nTypeError (must be real number, not Value) on every input. A crash, not a refusal: the\nharness reports it at math.\n',
        (
            ('        x = self.data\n        out = Value(math.exp(x), (self,), "exp")\n',
             '        out = Value(math.exp(self), (self,), "exp")\n'),
        )),
    'pow_other_data': (
        "A lecture-style engine whose ``__pow__`` reads ``other.data`` of a plain-number exponent:\nAttributeError ('int' object has no attribute 'data') on every input of ``x ** 2``. A crash,\nnot a refusal.\n",
        (
            ('        assert isinstance(other, (int, float)), "only supporting int/float powers for now"\n        out = Value(self.data**other, (self,), f"**{other}")\n',
             '        out = Value(self.data**other.data, (self,), f"**{other}")\n'),
        )),
    'label_required': (
        'A lecture-style engine whose constructor needs a label: ``Value(0.7)`` raises TypeError, so\nthe harness (which makes leaves as ``Value(x)``) can check nothing: a usage error, never a pass.\n',
        (
            ('    def __init__(self, data, _children=(), _op="", label=""):\n',
             '    def __init__(self, data, label, _children=(), _op=""):\n'),
            ('        other = other if isinstance(other, Value) else Value(other)\n        out = Value(self.data + other.data, (self, other), "+")\n',
             '        other = other if isinstance(other, Value) else Value(other, str(other))\n        out = Value(self.data + other.data, "+", (self, other), "+")\n'),
            ('        other = other if isinstance(other, Value) else Value(other)\n        out = Value(self.data * other.data, (self, other), "*")\n',
             '        other = other if isinstance(other, Value) else Value(other, str(other))\n        out = Value(self.data * other.data, "*", (self, other), "*")\n'),
            ('        out = Value(self.data**other, (self,), f"**{other}")\n',
             '        out = Value(self.data**other, "**", (self,), f"**{other}")\n'),
            ('        out = Value(t, (self,), "tanh")\n',
             '        out = Value(t, "tanh", (self,), "tanh")\n'),
            ('        out = Value(math.exp(x), (self,), "exp")\n',
             '        out = Value(math.exp(x), "exp", (self,), "exp")\n'),
            ('        out = Value(0 if self.data < 0 else self.data, (self,), "ReLU")\n',
             '        out = Value(0 if self.data < 0 else self.data, "relu", (self,), "ReLU")\n'),
        )),
    'refuses_value_exponent': (
        'A lecture-style engine that refuses a Value exponent deliberately, with its own ``raise``:\n``x ** y`` is refused (every probe input meets the same raise), ``x ** 2`` works.\n',
        (
            ('        assert isinstance(other, (int, float)), "only supporting int/float powers for now"\n',
             '        if isinstance(other, Value):\n            raise ValueError("only int/float exponents are supported")\n'),
        )),
    'pow_numbers_only': (
        "A lecture-style engine whose ``**`` takes numbers only, without an assert: ``x ** y`` meets\nPython's own TypeError (unsupported operand type(s) for ** or pow(): 'float' and 'Value')\ninside ``__pow__``, while ``x ** 2`` works: the Value-exponent form is not offered.\n",
        (
            ('        assert isinstance(other, (int, float)), "only supporting int/float powers for now"\n',
             ''),
        )),
    'self_recursive_sub': (
        'The lecture engine with a self-recursive ``__sub__``: ``return self - other`` calls itself\nuntil RecursionError, on any graph with a subtraction (a math-level crash, however shallow).\n',
        (
            ('        return self + (-other)\n',
             '        return self - other\n'),
        )),
    'sigmoid_exact': (
        "The lecture engine with a sigmoid whose derivative is computed from exp(-x):\ne^-x / (1 + e^-x)**2. Correct, and closer to the exact value than torch where the derivative\nis tiny (sigmoid'(59) = 2.4e-26 here, torch 0.0 as s * (1 - s)): never a math failure.\nIts formulas overflow for x below about -355 (the derivative) and -709 (the value), where\nsigmoid is flat: robust level.\n",
        (
            ('    def relu(self):\n',
             '    def sigmoid(self):\n        x = self.data\n        s = 1 / (1 + math.exp(-x))\n        out = Value(s, (self,), "sigmoid")\n\n        def _backward():\n            self.grad += math.exp(-x) / (1 + math.exp(-x)) ** 2 * out.grad\n        out._backward = _backward\n\n        return out\n\n    def relu(self):\n'),
        )),
    'tanh_grad_scaled': (
        'The lecture engine with a wrong tanh derivative: 2 * (1 - t**2) instead of 1 - t**2 (a\nlearner who mixed it up with the derivative of tanh(2x)). A math failure named tanh.\n',
        (
            ('            self.grad += (1 - t**2) * out.grad\n',
             '            self.grad += 2 * (1 - t**2) * out.grad\n'),
        )),
}
LEARNERS: tuple[str, ...] = tuple(_LEARNERS)
"""The learners' engine files (:func:`write_learner`, :func:`load_learner`)."""


def lecture_source() -> str:
    return LECTURE_PATH.read_text(encoding="utf-8")


def variant_source(name: str) -> str:
    """lecture.py's source with variant ``name``'s replacements applied."""
    if name not in VARIANTS:
        raise KeyError(f"unknown variant {name!r}; known: {', '.join(VARIANTS)}")
    source = lecture_source()
    for old, new in VARIANTS[name]:
        count = source.count(old)
        assert count == 1, f"variant {name!r}: {old!r} occurs {count} times in lecture.py, not once"
        source = source.replace(old, new)
    return source


def module_name(name: str | None) -> str:
    """The ``sys.modules`` name of the lecture engine (None) or of a variant."""
    return _MODULE_PREFIX + ("lecture" if name is None else "lecture_" + name)


def load(name: str | None = None) -> type:
    """The ``Value`` class of the lecture engine (None) or of variant ``name``, loaded once."""
    key = module_name(name)
    if key not in sys.modules:
        source = lecture_source() if name is None else variant_source(name)
        module = types.ModuleType(key, f"lecture engine{'' if name is None else ' variant ' + name}")
        module.__file__ = str(LECTURE_PATH)
        module.__vetgrad_source__ = source  # how the harness's engine process gets the module
        sys.modules[key] = module  # the harness's adapter imports cls.__module__
        exec(compile(source, f"<{key}>", "exec"), module.__dict__)
    return sys.modules[key].Value  # type: ignore[no-any-return]


def spec(name: str | None = None) -> str:
    """A ``module:attr`` string for the harness (the module is loaded and registered first)."""
    load(name)
    return module_name(name) + ":Value"


def write_variant(name: str, directory: Path) -> Path:
    """Write variant ``name`` to ``directory/lecture_<name>.py``; its path (``PATH:Value`` for the
    harness's command line)."""
    path = Path(directory) / f"lecture_{name}.py"
    path.write_text(variant_source(name), encoding="utf-8")
    return path


def learner_source(name: str) -> str:
    """The source of learner engine ``name``: lecture.py with its docstring and edits."""
    if name not in _LEARNERS:
        raise KeyError(f"unknown learner engine {name!r}; known: {', '.join(_LEARNERS)}")
    doc, edits = _LEARNERS[name]
    source = lecture_source()
    end = source.index('"""', 3) - len(source)  # lecture.py's docstring body, kept to the quotes
    source = '"""' + doc + source[end:]
    for old, new in edits:
        count = source.count(old)
        assert count == 1, f"learner {name!r}: {old!r} occurs {count} times in lecture.py, not once"
        source = source.replace(old, new)
    return source


def write_learner(name: str, directory: Path) -> Path:
    """Write learner engine ``name`` to ``directory/<name>.py`` (as a learner's own file); its path."""
    path = Path(directory) / f"{name}.py"
    path.write_text(learner_source(name), encoding="utf-8")
    return path


def load_learner(name: str) -> type:
    """The ``Value`` class of learner engine ``name``, loaded once (registered as :func:`load`
    does, so ``module_name``-style specs work: :func:`learner_spec`)."""
    key = _MODULE_PREFIX + name
    if key not in sys.modules:
        module = types.ModuleType(key, f"learner engine {name}")
        module.__file__ = str(LECTURE_PATH.with_name(f"{name}.py"))
        module.__vetgrad_source__ = learner_source(name)
        sys.modules[key] = module
        exec(compile(module.__vetgrad_source__, f"<{key}>", "exec"), module.__dict__)
    return sys.modules[key].Value  # type: ignore[no-any-return]


def learner_spec(name: str) -> str:
    """A ``module:attr`` string of learner engine ``name`` for the harness."""
    load_learner(name)
    return _MODULE_PREFIX + name + ":Value"


# The notebook-spelled engine (notebook.py: .val, .children, .op, back_prop()) and its bugs, made
# as the lecture's variants are: name -> its (old text, new text) replacements in notebook.py.
NOTEBOOK_PATH = Path(__file__).with_name("notebook.py")
NOTEBOOK_VARIANTS: dict[str, tuple[tuple[str, str], ...]] = {
    "eq_tanh": ((_TANH, _assign(_TANH)),),  # tanh's backward with = for +=, as eq_tanh above
    "tanh_grad_scaled": ((_TANH, _TANH.replace("+= (1", "+= 2 * (1")),),  # 2 * (1 - t**2)
    "eq_mul": (("self.grad += other.val * out.grad\n            other.grad += self.val * out.grad\n",
                "self.grad = other.val * out.grad\n            other.grad = self.val * out.grad\n"),),
}
NOTEBOOK_BUGGY_OP: dict[str, str] = {"eq_tanh": "tanh", "tanh_grad_scaled": "tanh", "eq_mul": "mul"}


def notebook_source(name: str | None = None) -> str:
    """notebook.py's source, with variant ``name``'s replacements applied (None: as it is)."""
    source = NOTEBOOK_PATH.read_text(encoding="utf-8")
    for old, new in NOTEBOOK_VARIANTS[name] if name is not None else ():
        count = source.count(old)
        assert count == 1, f"notebook variant {name!r}: {old!r} occurs {count} times, not once"
        source = source.replace(old, new)
    return source


def write_notebook(name: str | None, directory: Path) -> Path:
    """Write the notebook engine (None) or its variant ``name`` to ``directory``; its path."""
    path = Path(directory) / ("notebook.py" if name is None else f"notebook_{name}.py")
    path.write_text(notebook_source(name), encoding="utf-8")
    return path


def notebook_spec(name: str | None = None) -> str:
    """A ``module:attr`` string of the notebook engine (None) or its variant ``name``, loaded once."""
    key = _MODULE_PREFIX + "notebook" + ("" if name is None else "_" + name)
    if key not in sys.modules:
        module = types.ModuleType(key, f"notebook engine{'' if name is None else ' variant ' + name}")
        module.__file__ = str(NOTEBOOK_PATH)
        module.__vetgrad_source__ = notebook_source(name)
        sys.modules[key] = module
        exec(compile(module.__vetgrad_source__, f"<{key}>", "exec"), module.__dict__)
    return key + ":Value"
