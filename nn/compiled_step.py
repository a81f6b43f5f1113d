"""``compile_step``: a model's training step over a fixed batch size, traced once and replayed.

>>> from vetgrad.nn import MLP, SGD, compile_step, mse_loss
>>> model = MLP(2, [4, 1], seed=0)
>>> step = compile_step(model, mse_loss, batch_size=2)
>>> opt = SGD(model.parameters(), lr=0.1)
>>> for _ in range(3):
...     opt.zero_grad()
...     loss = step([[0.5, -1.0], [1.5, 2.0]], [1.0, -1.0])   # a float; grads are in .grad
...     opt.step()

A step is ``loss_fn([model(x) for x in inputs], targets)`` and ``backward()``. The first call runs
it eagerly on Values (the model's own parameters, the inputs and the targets as fresh leaves), so
its result *is* the eager step; the graph it built is then compiled with
:meth:`engine.Compiled.from_graph`, parameters, inputs and targets as arguments. Later calls replay
that straight-line float code with the parameters' current ``.data`` and the new batch: no Value is
built, and the gradients are written into the parameters' ``.grad`` as ``backward()`` writes them
(assigned when unset, added to a set gradient; a parameter the loss does not reach is left
alone), so every optimizer works unchanged. The float operations are the eager step's, in its
order: the results are bit for bit the eager step's (tests/test_nn_compiled_step.py).

Tracing caveat (:func:`engine.compile`'s, as ``torch.jit.trace``): Python branches on ``.data``
are baked into the trace. The losses of :mod:`nn.losses` that branch on data
(``binary_cross_entropy_with_logits``, ``cross_entropy``, ``logsumexp``, ``log_softmax``,
``softmax``) are refused; a model or loss of your own must not branch on values either. Targets
reach ``loss_fn`` as Values (so they can change from call to call): a loss that treats a number
differently from a Value (``number / Value`` is torch's ``reciprocal(b) * a``) gets the Value form.
"""

from __future__ import annotations

import functools
import numbers
from typing import Any, Callable, Sequence

from vetgrad.engine import Compiled, Value, enable_grad, topological_order
from vetgrad.engine.backprop import UNSET
from vetgrad.nn.losses import (
    binary_cross_entropy_with_logits,
    cross_entropy,
    log_softmax,
    logsumexp,
    softmax,
)
from vetgrad.nn.module import Module

LossFn = Callable[[list[Any], list[Any]], Value]

BRANCHES_ON_DATA: tuple[Callable[..., Any], ...] = (
    binary_cross_entropy_with_logits, cross_entropy, logsumexp, log_softmax, softmax)
"""Losses whose result depends on a Python branch on ``.data`` (a trace would bake it in)."""


def _shape(x: Any, what: str, i: int) -> int | None:
    """None for a number, the length for a list of numbers; TypeError naming the sample else."""
    if isinstance(x, numbers.Real) and not isinstance(x, bool):
        return None
    if isinstance(x, Sequence) and not isinstance(x, (str, bytes)):
        for j, v in enumerate(x):
            if isinstance(v, bool) or not isinstance(v, numbers.Real):
                raise TypeError(f"compile_step: {what}[{i}][{j}] must be a real number, got "
                                f"{type(v).__name__}: {v!r}")
        return len(x)
    raise TypeError(f"compile_step: {what}[{i}] must be a number or a list of numbers, got "
                    f"{type(x).__name__}: {x!r}")


def _leaves(rows: Sequence[Any], shapes: list[int | None]) -> tuple[list[Any], list[Value]]:
    """The batch as Values in its own shape, and the same leaves flat (the compiled arguments)."""
    shaped: list[Any] = []
    flat: list[Value] = []
    for x, n in zip(rows, shapes):
        if n is None:
            v = Value(float(x))
            shaped.append(v)
            flat.append(v)
        else:
            vs = [Value(float(e)) for e in x]
            shaped.append(vs)
            flat.extend(vs)
    return shaped, flat


class CompiledStep:
    """A compiled training step of ``model`` for batches of ``batch_size``: ``step(inputs,
    targets) -> loss`` (a float), gradients written into the parameters' ``.grad``."""

    def __init__(self, model: Module, loss_fn: LossFn, batch_size: int) -> None:
        if not isinstance(model, Module):
            raise TypeError(f"compile_step needs an nn Module, got {type(model).__name__}")
        if not callable(loss_fn):
            raise TypeError(f"compile_step: loss_fn must be callable, got "
                            f"{type(loss_fn).__name__}")
        base = loss_fn.func if isinstance(loss_fn, functools.partial) else loss_fn
        if any(base is f for f in BRANCHES_ON_DATA):
            raise ValueError(f"compile_step cannot compile {base.__name__}: it branches on "
                             ".data (which a trace bakes in), so replays would not follow the "
                             "numbers; use the eager step (loss.backward()) for it")
        if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) \
                or batch_size < 1:
            raise ValueError(f"compile_step: batch_size must be a positive int, got "
                             f"{batch_size!r}")
        self.model, self.loss_fn, self.batch_size = model, loss_fn, int(batch_size)
        self.params = model.parameters()
        self.compiled: Compiled | None = None  # made by the first call
        self._shapes: tuple[list[int | None], list[int | None]] | None = None
        self._reached: list[Value] | None = None  # None: every parameter is reached
        self._reached_at: list[int] = []

    @property
    def source(self) -> str:
        """The generated code of the step (empty before the first call)."""
        return self.compiled.source if self.compiled is not None else ""

    def __call__(self, inputs: Sequence[Any], targets: Sequence[Any]) -> float:
        """One step on this batch: the loss; the gradients are added into ``.grad``."""
        compiled = self.compiled
        if compiled is None:
            return self._trace(inputs, targets)
        args = [p.data for p in self.params]
        shapes_x, shapes_y = self._shapes  # type: ignore[misc]
        try:
            for rows, shapes in ((inputs, shapes_x), (targets, shapes_y)):
                if len(rows) != len(shapes):
                    raise ValueError
                for x, n in zip(rows, shapes):
                    if n is None:
                        args.append(x)
                    elif len(x) == n:
                        args.extend(x)
                    else:
                        raise ValueError
            loss, grads = compiled(*args)
        except (TypeError, ValueError):
            self._check(inputs, targets)  # raises, naming the sample
            raise
        params = self.params if self._reached is None else self._reached
        grads = grads if self._reached is None else [grads[i] for i in self._reached_at]
        unset = UNSET
        for p, g in zip(params, grads):
            old = p.grad
            p.grad = g if old is unset or old is None else old + g
        return loss

    def _check(self, inputs: Any, targets: Any) -> tuple[list[int | None], list[int | None]]:
        """The shape of each sample of the batch, checked against the first call's."""
        got = []
        for what, rows in (("inputs", inputs), ("targets", targets)):
            if isinstance(rows, (str, bytes)) or not isinstance(rows, Sequence):
                raise TypeError(f"compile_step: {what} must be a list of {self.batch_size} "
                                f"samples, got {type(rows).__name__}")
            if len(rows) != self.batch_size:
                raise ValueError(f"compile_step: compiled for batches of {self.batch_size}, "
                                 f"{what} has {len(rows)} samples")
            got.append([_shape(x, what, i) for i, x in enumerate(rows)])
        if self._shapes is not None:
            for what, mine, theirs in zip(("inputs", "targets"), self._shapes, got):
                for i, (a, b) in enumerate(zip(mine, theirs)):
                    if a != b:
                        def say(n: int | None) -> str:
                            return "a number" if n is None else f"a list of {n}"
                        raise ValueError(f"compile_step: {what}[{i}] is {say(b)}, the step was "
                                         f"traced with {say(a)}")
        return got[0], got[1]

    def _trace(self, inputs: Any, targets: Any) -> float:
        shapes = self._check(inputs, targets)
        xs, flat_x = _leaves(inputs, shapes[0])
        ys, flat_y = _leaves(targets, shapes[1])
        with enable_grad():
            outputs = [self.model(x) for x in xs]
            loss = self.loss_fn(outputs, ys)
        if not isinstance(loss, Value):
            raise TypeError(f"compile_step: loss_fn must return one Value, got "
                            f"{type(loss).__name__}: {loss!r}")
        reached = {id(v) for v in topological_order([loss])}
        if not any(id(p) in reached for p in self.params):
            raise ValueError("compile_step: the loss does not depend on any parameter of the "
                             "model: nothing to train")
        loss.backward()  # the first step is the eager step itself
        at = [i for i, p in enumerate(self.params) if id(p) in reached]
        if len(at) < len(self.params):
            self._reached, self._reached_at = [self.params[i] for i in at], at
        self.compiled = Compiled.from_graph([*self.params, *flat_x, *flat_y], loss,
                                            name=f"{type(self.model).__name__}_step")
        self._shapes = shapes
        return loss.data

    def __repr__(self) -> str:
        state = (f"{self.compiled.nodes} nodes" if self.compiled is not None
                 else "not traced yet")
        return f"<compiled step of {type(self.model).__name__}, batch {self.batch_size}: {state}>"


def compile_step(model: Module, loss_fn: LossFn, batch_size: int) -> CompiledStep:
    """A training step of ``model`` for batches of ``batch_size``, compiled at its first call:
    ``step(inputs, targets)`` runs ``loss_fn([model(x) for x in inputs], targets)`` and its
    backward pass, writes the gradients into the parameters' ``.grad`` (as ``backward()``) and
    returns the loss as a float, bit for bit what the eager step gives. See the module's
    docstring for what tracing bakes in."""
    return CompiledStep(model, loss_fn, batch_size)
