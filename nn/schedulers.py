"""Learning-rate schedulers with ``torch.optim.lr_scheduler``'s behaviour and float arithmetic.

Like torch, a scheduler sets each group's ``initial_lr`` and takes its first step when created
(``last_epoch`` becomes 0), then changes ``group["lr"]`` on every ``step()``. The updates are
torch's recursive ("chainable") forms, so the learning rates agree with torch's to the last bit.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

from vetgrad.nn.optim import Optimizer


class LRScheduler:
    """Base class: ``step()`` advances ``last_epoch`` and writes the new rates into the optimizer;
    ``get_last_lr()`` returns them."""

    def __init__(self, optimizer: Optimizer) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__} needs an nn.optim optimizer, "
                            f"got {type(optimizer).__name__}")
        self.optimizer = optimizer
        for group in optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])
        self.base_lrs: list[float] = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = -1
        self._initial = True
        self.step()
        self._initial = False

    def step(self) -> None:
        """Advance one epoch (call after ``optimizer.step()``)."""
        if len(self.optimizer.param_groups) != len(self.base_lrs):
            raise ValueError(f"{type(self).__name__} was made for {len(self.base_lrs)} parameter "
                             f"group(s) and the optimizer now has {len(self.optimizer.param_groups)}: "
                             f"make the scheduler after add_param_group()")
        self.last_epoch += 1
        lrs = self._initial_lrs() if self._initial else self._next_lrs()
        for group, lr in zip(self.optimizer.param_groups, lrs):
            group["lr"] = lr
        self._last_lr = list(lrs)

    def get_last_lr(self) -> list[float]:
        """The learning rate of each parameter group after the last ``step()``."""
        return list(self._last_lr)

    def state_dict(self) -> dict[str, Any]:
        """Everything but the optimizer (``last_epoch``, base rates, settings), as torch's: plain
        numbers, JSON-serialisable."""
        return {k: list(v) if isinstance(v, list) else v
                for k, v in vars(self).items() if k != "optimizer"}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Resume from :meth:`state_dict` of a scheduler of the same kind."""
        unknown = sorted(set(state_dict) - set(vars(self)) if isinstance(state_dict, dict) else {"?"})
        if unknown:
            raise ValueError(f"not a {type(self).__name__} state dict: unknown key(s) "
                             f"{', '.join(map(str, unknown))}")
        self.__dict__.update({k: list(v) if isinstance(v, list) else v
                              for k, v in state_dict.items()})

    def _initial_lrs(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]

    def _next_lrs(self) -> list[float]:
        raise NotImplementedError


def _positive_int(x: Any, what: str) -> int:
    if isinstance(x, bool) or not isinstance(x, numbers.Integral) or x < 1:
        raise ValueError(f"{what} must be a positive int, got {x!r}")
    return int(x)


def _real(x: Any, what: str) -> float:
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(f"{what} must be a real number, got {type(x).__name__}: {x!r}")
    return float(x)


class StepLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` every ``step_size`` epochs
    (``torch.optim.lr_scheduler.StepLR``)."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1) -> None:
        self.step_size = _positive_int(step_size, "step_size")
        self.gamma = _real(gamma, "gamma")
        super().__init__(optimizer)

    def _next_lrs(self) -> list[float]:
        groups = self.optimizer.param_groups
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return [group["lr"] for group in groups]
        return [group["lr"] * self.gamma for group in groups]


class CosineAnnealingLR(LRScheduler):
    """Anneal the learning rate from its initial value to ``eta_min`` along half a cosine over
    ``T_max`` epochs, then back up (``torch.optim.lr_scheduler.CosineAnnealingLR``)."""

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0) -> None:
        self.T_max = _positive_int(T_max, "T_max")
        self.eta_min = _real(eta_min, "eta_min")
        super().__init__(optimizer)

    def _next_lrs(self) -> list[float]:
        e, t_max, eta_min = self.last_epoch, self.T_max, self.eta_min
        groups = self.optimizer.param_groups
        if (e - 1 - t_max) % (2 * t_max) == 0:
            return [group["lr"] + (base_lr - eta_min) * (1 - math.cos(math.pi / t_max)) / 2
                    for base_lr, group in zip(self.base_lrs, groups)]
        return [(1 + math.cos(math.pi * e / t_max)) / (1 + math.cos(math.pi * (e - 1) / t_max))
                * (group["lr"] - eta_min) + eta_min for group in groups]
