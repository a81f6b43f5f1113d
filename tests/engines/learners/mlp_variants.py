"""Variants of the lecture's network and loop (mlp_lecture.py), each one learner's change made by
exact replacement in its source (each old text must occur exactly once): correct ones (the last
layer linear as micrograd's ``nonlin``, the model's own ``zero_grad()``/``step(lr)``) and buggy
ones, each with the words its first finding must hold.

:func:`load` executes a variant as a module (in this package, so ``from .lecture import Value``
works) that keeps its source in ``__vetgrad_source__``; :func:`write` writes it as a file beside
a copy of lecture.py, for ``vetgrad-conformance mlp --model FILE.py:MLP``.
"""

from __future__ import annotations

import shutil
import sys
import types
from pathlib import Path

HERE = Path(__file__).parent
SOURCE = (HERE / "mlp_lecture.py").read_text()

_UPDATE = "p.data += -0.05 * p.grad\n"
_RESET = "    for p in model.parameters():\n        p.grad = 0.0\n"
_LINEAR_LAST = (
    ("    def __init__(self, nin):\n", "    def __init__(self, nin, nonlin=True):\n"),
    ("        self.b = Value(random.uniform(-1, 1))\n",
     "        self.b = Value(random.uniform(-1, 1))\n        self.nonlin = nonlin\n"),
    ("        out = act.tanh()\n", "        out = act.tanh() if self.nonlin else act\n"),
    ("    def __init__(self, nin, nout):\n        self.neurons = [Neuron(nin) for _ in range(nout)]\n",
     "    def __init__(self, nin, nout, **kwargs):\n"
     "        self.neurons = [Neuron(nin, **kwargs) for _ in range(nout)]\n"),
    ("[Layer(sz[i], sz[i + 1]) for i in range(len(nouts))]",
     "[Layer(sz[i], sz[i + 1], nonlin=i != len(nouts) - 1) for i in range(len(nouts))]"),
)
_OWN_STEP = (
    ("        return [p for layer in self.layers for p in layer.parameters()]\n",
     "        return [p for layer in self.layers for p in layer.parameters()]\n\n"
     "    def zero_grad(self):\n        for p in self.parameters():\n            p.grad = 0.0\n\n"
     "    def step(self, lr):\n        for p in self.parameters():\n            p.data += -lr * p.grad\n"),
    (_RESET, "    model.zero_grad()\n"),
    ("    for p in model.parameters():\n        " + _UPDATE, "    model.step(0.05)\n"),
)

# name -> (edits, the first finding's words; "" for a correct variant)
CATALOG: dict[str, tuple[tuple[tuple[str, str], ...], str]] = {
    "lecture": ((), ""),
    "linear_last": (_LINEAR_LAST, ""),
    "own_step": (_OWN_STEP, ""),
    "no_reset": (((_RESET, ""),), "reset p.grad to 0 before backward()"),
    "uphill": (((_UPDATE, "p.data += 0.05 * p.grad\n"),),
               "parameters moved with the gradient: the loss rises; the update needs -lr"),
    "no_bias_params": ((("        return self.w + [self.b]\n", "        return self.w\n"),),
                       "the biases are missing"),
    "bias_dropped": ((("sum((wi * xi for wi, xi in zip(self.w, x)), self.b)",
                       "sum(wi * xi for wi, xi in zip(self.w, x))"),),
                     "the output is tanh(w·x) without the bias"),
    "list_output": ((("        return outs[0] if len(outs) == 1 else outs\n", "        return outs\n"),),
                    "returns a list of one Value"),
    "lr_decay": (((_UPDATE, "p.data += -0.05 / step.calls * p.grad\n"),
                  ("    # forward pass\n", "    step.calls = getattr(step, 'calls', 0) + 1\n    # forward pass\n")),
                 "the learning rate changes"),
    "frozen_last": ((("    for p in model.parameters():\n        " + _UPDATE,
                      "    for p in [p for layer in model.layers[:-1] for p in layer.parameters()]:\n"
                      "        " + _UPDATE),),
                    "never updated"),
}


def source(name: str) -> str:
    text = SOURCE
    for old, new in CATALOG[name][0]:
        assert text.count(old) == 1, (name, old)
        text = text.replace(old, new)
    return f'"""mlp_variants {name}: the lecture\'s network with one change."""\n' + text


def load(name: str) -> types.ModuleType:
    """The variant as a module of this package (registered in sys.modules, source kept)."""
    module_name = f"{__package__}._mlp_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    module = types.ModuleType(module_name)
    module.__package__ = __package__
    module.__file__ = str(HERE / f"_mlp_{name}.py")
    text = source(name)
    module.__vetgrad_source__ = text  # type: ignore[attr-defined]
    sys.modules[module_name] = module
    exec(compile(text, f"<mlp_variants {name}>", "exec"), module.__dict__)
    return module


def write(name: str, folder: Path) -> Path:
    """The variant as ``folder/mlp.py`` beside a copy of lecture.py (its engine)."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(HERE / "lecture.py", folder / "lecture.py")
    path = folder / "mlp.py"
    path.write_text(source(name))
    return path
