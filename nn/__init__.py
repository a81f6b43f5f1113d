"""vetgrad's nn: the micrograd lecture's neural-net library on :mod:`engine`, matching torch.

>>> from vetgrad.nn import MLP
>>> n = MLP(3, [4, 4, 1], seed=0)
>>> y = n([2.0, 3.0, -1.0])   # one output neuron: a single Value
>>> len(n.parameters())
41

Depends on ``engine`` only; torch is needed just for :func:`to_torch` / :func:`from_torch`.
"""

from vetgrad.nn.activations import ACTIVATIONS, Identity, LeakyReLU, ReLU, Sigmoid, Tanh
from vetgrad.nn.batched import BatchedStep, batched_step
from vetgrad.nn.compiled_step import CompiledStep, compile_step
from vetgrad.nn.init import INITS
from vetgrad.nn.interop import from_torch, to_torch
from vetgrad.nn.layers import MLP, Layer, Neuron
from vetgrad.nn.losses import (
    bce_with_logits,
    binary_cross_entropy_with_logits,
    cross_entropy,
    hinge_loss,
    l2_regularization,
    log_softmax,
    logsumexp,
    mse_loss,
    softmax,
)
from vetgrad.nn.module import IncompatibleKeys, Module, Sequential
from vetgrad.nn.optim import SGD, Adam, AdamW, Optimizer
from vetgrad.nn.schedulers import CosineAnnealingLR, LRScheduler, StepLR

__all__ = [
    "ACTIVATIONS",
    "INITS",
    "MLP",
    "SGD",
    "Adam",
    "AdamW",
    "BatchedStep",
    "CompiledStep",
    "CosineAnnealingLR",
    "Identity",
    "IncompatibleKeys",
    "LRScheduler",
    "Layer",
    "LeakyReLU",
    "Module",
    "Neuron",
    "Optimizer",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "StepLR",
    "Tanh",
    "batched_step",
    "bce_with_logits",
    "binary_cross_entropy_with_logits",
    "compile_step",
    "cross_entropy",
    "from_torch",
    "hinge_loss",
    "l2_regularization",
    "log_softmax",
    "logsumexp",
    "mse_loss",
    "softmax",
    "to_torch",
]
