"""The MLP training step: MLP(2, [16, 16, 1]) (ReLU hidden layers, linear output), a batch of 32,
mean squared error, one SGD step — the same weights and data in every contender.

Scalar contenders run the lecture's loop (one graph per sample, summed loss, ``p.data -= lr *
p.grad``): vetgrad with ``nn.MLP``, micrograd with ``micrograd.nn.MLP``, torch with 0-d tensors
in the same structure. ``torch-vec-*`` runs ``nn.Linear`` layers on the whole batch with
``torch.optim.SGD``. vetgrad's compiled step (``vetgrad-step``: ``nn.compile_step`` of the
lecture's loop, traced once before timing, then replayed) and batched step (``vetgrad-numpy``:
``nn.batched_step``, numpy matrices on the whole batch) write gradients into the parameters'
``.grad`` and update them as the eager loop does. A contender with ``batch=1`` trains on the
batch's first sample only (the one-sample workload). ``reset()`` puts the initial weights back
(untimed), so every timed ``step()`` does the same work and its result can be checked against a
float64 reference of the same batch.
"""

from __future__ import annotations

import functools
import itertools
import random
from dataclasses import dataclass
from typing import Any, Protocol

from vetgrad.benchmarks.contenders import Contender, micrograd_version, torch_module

NIN, NOUTS, BATCH, LR, SEED = 2, (16, 16, 1), 32, 0.05, 0

Neuron = tuple[list[float], float]  # weights, bias


@dataclass(frozen=True)
class Problem:
    """Initial weights (per layer, per neuron) and the batch."""

    layers: list[list[Neuron]]
    xs: list[list[float]]
    ys: list[float]

    def flat(self) -> list[float]:
        """Every parameter in the canonical order: layer, neuron, weights then bias."""
        return [x for layer in self.layers for w, b in layer for x in (*w, b)]


@functools.cache
def problem(seed: int = SEED, batch: int = BATCH) -> Problem:
    """Weights from U(-1, 1) as in the lecture, 32 points in [-2, 2]^2 labelled by quadrant (the
    first ``batch`` of them)."""
    rng = random.Random(seed)
    sizes = [NIN, *NOUTS]
    layers = [[([rng.uniform(-1.0, 1.0) for _ in range(nin)], rng.uniform(-1.0, 1.0))
               for _ in range(nout)] for nin, nout in itertools.pairwise(sizes)]
    xs = [[rng.uniform(-2.0, 2.0), rng.uniform(-2.0, 2.0)] for _ in range(BATCH)][:batch]
    ys = [1.0 if x0 * x1 > 0.0 else -1.0 for x0, x1 in xs]
    return Problem(layers, xs, ys)


def batch_of(contender: Contender) -> int:
    """Samples per step of ``contender``: its own ``batch``, or the suite's."""
    return contender.batch or BATCH


class Trainer(Protocol):
    def reset(self) -> None:
        """Put the initial weights back and clear gradients (not timed)."""

    def step(self) -> Any:
        """One training step; returns the loss in the engine's own type."""

    def loss(self, out: Any) -> float:
        """What ``step()`` returned, as a float."""

    def parameters(self) -> list[float]:
        """Every parameter as a float, in :meth:`Problem.flat` order."""


def mse(preds: list[Any], ys: list[float]) -> Any:
    """Mean squared error written once for every scalar engine (same nodes in each)."""
    total = (preds[0] - ys[0]) ** 2
    for p, y in zip(preds[1:], ys[1:]):
        total = total + (p - y) ** 2
    return total * (1.0 / len(ys))  # 1/32 is exact: the same as dividing, as torch does


class PythonScalarTrainer:
    """vetgrad or micrograd: Values with float ``.data`` and ``.grad``."""

    def __init__(self, model: Any, prob: Problem) -> None:
        self.model, self.prob = model, prob
        self.params = [p for layer in model.layers for n in layer.neurons for p in (*n.w, n.b)]

    def reset(self) -> None:
        for p, x in zip(self.params, self.prob.flat()):
            p.data = x
            p.grad = 0.0

    def step(self) -> Any:
        params, model = self.params, self.model
        for p in params:
            p.grad = 0.0
        loss = mse([model(x) for x in self.prob.xs], self.prob.ys)
        loss.backward()
        for p in params:
            p.data -= LR * p.grad
        return loss

    def loss(self, out: Any) -> float:
        return float(out.data)

    def parameters(self) -> list[float]:
        return [float(p.data) for p in self.params]


def vetgrad_mlp(prob: Problem) -> Any:
    """vetgrad's MLP of the problem's shape (weights set by ``reset``)."""
    cls, _ = vetgrad_mlp_class()
    return cls(NIN, list(NOUTS), activation="relu", final_activation="linear")


class CompiledStepTrainer(PythonScalarTrainer):
    """vetgrad's ``nn.compile_step`` of the lecture's loop (the same ``mse`` graph as the eager
    trainer), traced by a first step here, untimed; each timed step replays it."""

    def __init__(self, prob: Problem) -> None:
        from vetgrad import nn

        super().__init__(vetgrad_mlp(prob), prob)
        self.compiled = nn.compile_step(self.model, mse, len(prob.xs))
        self.reset()
        self.compiled(prob.xs, prob.ys)  # the trace

    def step(self) -> Any:
        params = self.params
        for p in params:
            p.grad = 0.0
        loss = self.compiled(self.prob.xs, self.prob.ys)
        for p in params:
            p.data -= LR * p.grad
        return loss

    def loss(self, out: Any) -> float:
        return float(out)


class NumpyTrainer(CompiledStepTrainer):
    """vetgrad's ``nn.batched_step``: numpy matrices over the whole batch (inputs and targets as
    arrays made once, as the torch-vec contenders make their tensors once)."""

    def __init__(self, prob: Problem) -> None:
        import numpy as np
        from vetgrad import nn

        PythonScalarTrainer.__init__(self, vetgrad_mlp(prob), prob)
        self.compiled = nn.batched_step(self.model, nn.mse_loss)
        self.x, self.y = np.array(prob.xs), np.array(prob.ys)

    def step(self) -> Any:
        params = self.params
        for p in params:
            p.grad = 0.0
        loss = self.compiled(self.x, self.y)
        for p in params:
            p.data -= LR * p.grad
        return loss


class TorchScalarTrainer:
    """torch 0-d tensors in the lecture's structure (a neuron is ``b + w0*x0 + w1*x1 + ...``)."""

    def __init__(self, contender: Contender, prob: Problem) -> None:
        self.torch = torch = torch_module()
        self.prob, self.sync = prob, contender.sync()
        make = functools.partial(torch.tensor, dtype=contender.torch_dtype(),
                                 device=contender.device, requires_grad=True)
        self.layers = [[([make(w) for w in ws], make(b)) for ws, b in layer]
                       for layer in prob.layers]
        self.params = [p for layer in self.layers for ws, b in layer for p in (*ws, b)]

    def forward(self, x: list[Any]) -> Any:
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            out = []
            for ws, b in layer:
                act = b
                for w, xi in zip(ws, x):
                    act = act + w * xi
                out.append(act if i == last else act.relu())
            x = out
        return x[0]

    def reset(self) -> None:
        with self.torch.no_grad():
            for p, x in zip(self.params, self.prob.flat()):
                p.fill_(x)
                p.grad = None

    def step(self) -> Any:
        for p in self.params:
            p.grad = None
        loss = mse([self.forward(x) for x in self.prob.xs], self.prob.ys)
        loss.backward()
        with self.torch.no_grad():
            for p in self.params:
                p -= LR * p.grad
        self.sync()
        return loss

    def loss(self, out: Any) -> float:
        return float(out.item())

    def parameters(self) -> list[float]:
        return [float(p.item()) for p in self.params]


class TorchBatchedTrainer:
    """``nn.Linear`` layers on the (32, 2) batch, ``F.mse_loss``, ``torch.optim.SGD``."""

    def __init__(self, contender: Contender, prob: Problem) -> None:
        self.torch = torch = torch_module()
        self.prob, self.sync = prob, contender.sync()
        dtype, device = contender.torch_dtype(), contender.device
        sizes = [NIN, *NOUTS]
        modules: list[Any] = []
        for i, (nin, nout) in enumerate(itertools.pairwise(sizes)):
            modules.append(torch.nn.Linear(nin, nout))
            if i < len(NOUTS) - 1:
                modules.append(torch.nn.ReLU())
        self.model = torch.nn.Sequential(*modules).to(device=device, dtype=dtype)
        self.linears = [m for m in self.model if isinstance(m, torch.nn.Linear)]
        self.x = torch.tensor(prob.xs, dtype=dtype, device=device)
        self.y = torch.tensor(prob.ys, dtype=dtype, device=device)
        self.opt = torch.optim.SGD(self.model.parameters(), lr=LR)
        self.mse = torch.nn.functional.mse_loss

    def reset(self) -> None:
        torch = self.torch
        with torch.no_grad():
            for lin, layer in zip(self.linears, self.prob.layers):
                lin.weight.copy_(torch.tensor([w for w, _ in layer], dtype=torch.float64))
                lin.bias.copy_(torch.tensor([b for _, b in layer], dtype=torch.float64))
        self.opt.zero_grad()

    def step(self) -> Any:
        self.opt.zero_grad()
        loss = self.mse(self.model(self.x).squeeze(1), self.y)
        loss.backward()
        self.opt.step()
        self.sync()
        return loss

    def loss(self, out: Any) -> float:
        return float(out.item())

    def parameters(self) -> list[float]:
        out: list[float] = []
        for lin in self.linears:
            w, b = lin.weight.tolist(), lin.bias.tolist()
            for row, bias in zip(w, b):
                out.extend((*row, bias))
        return out


def vetgrad_mlp_class() -> tuple[type, str]:
    """vetgrad's MLP class and where it came from (``nn.MLP``, or ``nn.layers.MLP`` while the
    package does not export it yet)."""
    from vetgrad import nn

    cls = getattr(nn, "MLP", None)
    if cls is not None:
        return cls, "nn.MLP"
    from vetgrad.nn.layers import MLP

    return MLP, "nn.layers.MLP"


def trainer(contender: Contender, prob: Problem | None = None) -> Trainer:
    """A trainer for ``contender``, reset to the initial weights."""
    prob = prob or problem(batch=batch_of(contender))
    made: Trainer
    if contender.family == "vetgrad":
        made = PythonScalarTrainer(vetgrad_mlp(prob), prob)
    elif contender.family == "vetgrad-step":
        made = CompiledStepTrainer(prob)
    elif contender.family == "vetgrad-numpy":
        made = NumpyTrainer(prob)
    elif contender.family == "micrograd":
        from micrograd.nn import MLP

        made = PythonScalarTrainer(MLP(NIN, list(NOUTS)), prob)
    elif contender.family == "torch":
        made = TorchScalarTrainer(contender, prob)
    else:
        made = TorchBatchedTrainer(contender, prob)
    made.reset()
    return made


def describe(contender: Contender) -> str:
    """Which model code a contender runs, for the report."""
    if contender.family == "vetgrad":
        try:
            return vetgrad_mlp_class()[1]
        except ImportError as exc:
            return f"unavailable ({exc})"
    if contender.family == "vetgrad-step":
        return "nn.MLP, nn.compile_step"
    if contender.family == "vetgrad-numpy":
        return "nn.MLP, nn.batched_step (numpy)"
    if contender.family == "micrograd":
        return f"micrograd.nn.MLP {micrograd_version() or ''}".strip()
    if contender.family == "torch":
        return "0-d tensors, lecture structure"
    return "nn.Sequential(nn.Linear, ...) + optim.SGD"


@dataclass(frozen=True)
class Reference:
    loss: float
    params: list[float]


@functools.cache
def reference(seed: int = SEED, batch: int = BATCH) -> Reference:
    """One step in float64 on CPU by torch's batched code: the numbers every contender training
    on ``batch`` samples must get."""
    from vetgrad.benchmarks.contenders import get

    t = trainer(get("torch-vec-f64"), problem(seed, batch))
    out = t.step()
    return Reference(t.loss(out), t.parameters())


def check(t: Trainer, out: Any, dtype: str, ref: Reference | None = None,
          batch: int = BATCH) -> None:
    """Raise AssertionError unless ``out`` (a step from the initial weights) and the updated
    parameters of ``t`` match the reference (of a step on ``batch`` samples)."""
    check_numbers(t.loss(out), t.parameters(), dtype, ref or reference(batch=batch))


def check_numbers(loss: float, params: list[float], dtype: str, ref: Reference | None = None) -> None:
    """:func:`check` on a step's loss and updated parameters (as a worker process reports them)."""
    ref = ref or reference()
    rtol = 1e-9 if dtype == "float64" else 1e-4
    if abs(loss - ref.loss) > rtol * abs(ref.loss):
        raise AssertionError(f"MLP step: loss {loss!r}, reference {ref.loss!r}")
    if len(params) != len(ref.params):
        raise AssertionError(f"MLP step: {len(params)} parameters, reference {len(ref.params)}")
    worst = max(abs(a - b) / (1.0 + abs(b)) for a, b in zip(params, ref.params))
    if worst > rtol:
        raise AssertionError(f"MLP step: parameters differ from the reference by {worst:.3g}")

