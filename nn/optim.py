"""Optimizers with ``torch.optim``'s names, defaults and update formulas, on plain floats.

Each ``step()`` reads ``p.grad`` and writes ``p.data`` of every parameter; no graph nodes are made.
The formulas and their order of operations are torch's single-tensor (CPU) code paths, so that a
vetgrad model and its torch twin stay together to ~1e-15 per step. (torch's CPU kernels fuse
``a + s * b`` into one fused multiply-add; plain Python rounds twice, a difference of at most one
unit in the last place per operation.)
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Callable

from vetgrad.engine import Value, grad_is_set, ieee, zero_grad


def _real(x: Any, what: str) -> float:
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(f"{what} must be a real number, got {type(x).__name__}: {x!r}")
    return float(x)


class Optimizer:
    """Base class: ``param_groups`` (a list of dicts holding ``"params"`` and hyper-parameters),
    per-parameter ``state``, ``zero_grad()`` and ``step()``, as in ``torch.optim.Optimizer``."""

    def __init__(self, params: Any, defaults: dict[str, Any]) -> None:
        self.defaults = defaults
        self.state: dict[Value, dict[str, float]] = {}
        self.param_groups: list[dict[str, Any]] = []
        if isinstance(params, Value):
            raise TypeError("params must be an iterable of Values (e.g. model.parameters()), "
                            "got a single Value")
        if isinstance(params, dict):
            params = [params]
        try:
            groups = list(params)
        except TypeError:
            raise TypeError(f"params must be an iterable of Values or of dicts, "
                            f"got {type(params).__name__}") from None
        if not groups:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters with its own hyper-parameters (defaults fill the rest)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"a parameter group must be a dict, got {type(param_group).__name__}")
        if "params" not in param_group:
            raise ValueError("a parameter group needs a 'params' key")
        params = param_group["params"]
        params = [params] if isinstance(params, Value) else list(params)
        if not params:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        for i, p in enumerate(params):
            if not isinstance(p, Value):
                raise TypeError(f"{type(self).__name__} can only optimize Values, but parameter "
                                f"{i} is a {type(p).__name__}")
        if len({id(p) for p in params}) != len(params):
            raise ValueError("a parameter group lists the same parameter more than once")
        taken = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in taken for p in params):
            raise ValueError("some parameters appear in more than one parameter group")
        unknown = sorted(set(param_group) - set(self.defaults) - {"params", "initial_lr"})
        if unknown:
            raise ValueError(f"unknown hyper-parameter(s) for {type(self).__name__}: "
                             f"{', '.join(unknown)}")
        group = {**self.defaults, **param_group, "params": params}
        self._check_group(group)
        self.param_groups.append(group)

    def _check_group(self, group: dict[str, Any]) -> None:
        group["lr"] = _real(group["lr"], "lr")
        if not group["lr"] >= 0.0:
            raise ValueError(f"Invalid learning rate: {group['lr']}")

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Unset every parameter's gradient (reads 0.0; torch's None), so that ``step()`` skips a
        parameter no later backward reaches. ``set_to_none=False``: a set gradient becomes a set
        0.0 instead (torch's ``grad.zero_()``), which ``step()`` does apply."""
        zero_grad((p for group in self.param_groups for p in group["params"]), set_to_none)

    # -- state ----------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Hyper-parameters and per-parameter state (momentum buffers, Adam's moments and step
        counts) as plain numbers, torch's layout: parameters are numbered across the groups in
        order, ``{"state": {index: {...}}, "param_groups": [{..., "params": [index, ...]}]}``.
        JSON-serialisable; restore with :meth:`load_state_dict` to resume training exactly."""
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            numbers_ = [index.setdefault(id(p), len(index)) for p in group["params"]]
            groups.append({**{k: v for k, v in group.items() if k != "params"}, "params": numbers_})
        state = {index[id(p)]: dict(st) for p, st in self.state.items() if id(p) in index}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Take hyper-parameters and state from :meth:`state_dict` of an optimizer of the same
        kind over parameters in the same order (keys may be strings, as after JSON)."""
        if not isinstance(state_dict, dict) or set(state_dict) != {"state", "param_groups"}:
            raise ValueError("an optimizer state dict has exactly the keys 'state' and "
                             "'param_groups'")
        saved = state_dict["param_groups"]
        if not isinstance(saved, list) or len(saved) != len(self.param_groups):
            raise ValueError(f"the state dict has {len(saved) if isinstance(saved, list) else '?'} "
                             f"parameter group(s), this optimizer {len(self.param_groups)}")
        params = [p for group in self.param_groups for p in group["params"]]
        for i, (mine, theirs) in enumerate(zip(self.param_groups, saved)):
            if not isinstance(theirs, dict) or len(theirs.get("params", ())) != len(mine["params"]):
                raise ValueError(f"parameter group {i}: the state dict has "
                                 f"{len(theirs.get('params', ())) if isinstance(theirs, dict) else '?'} "
                                 f"parameters, this optimizer {len(mine['params'])}")
            unknown = sorted(set(theirs) - set(mine) - {"initial_lr"})  # (set by a scheduler)
            if unknown:
                raise ValueError(f"parameter group {i}: unknown hyper-parameter(s) for "
                                 f"{type(self).__name__}: {', '.join(unknown)}")
        states: dict[Value, dict[str, float]] = {}
        for key, st in state_dict["state"].items():
            k = int(key)
            if not 0 <= k < len(params) or not isinstance(st, dict):
                raise ValueError(f"state entry {key!r} names no parameter of this optimizer")
            states[params[k]] = {name: _real(v, f"state[{key}][{name!r}]") for name, v in st.items()}
        for mine, theirs in zip(self.param_groups, saved):
            group = {**mine, **{k: v for k, v in theirs.items() if k != "params"}}
            if "betas" in group:
                group["betas"] = tuple(group["betas"])
            self._check_group(group)
            mine.update(group)
        self.state = states

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter once from its ``.grad``; returns ``closure()`` if given (called
        first, to recompute the loss and gradients)."""
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            self._update(group)
        return loss

    def _update(self, group: dict[str, Any]) -> None:
        raise NotImplementedError

    @staticmethod
    def _with_grad(group: dict[str, Any]) -> list[Value]:
        """The group's parameters a gradient has reached: torch skips a parameter whose grad is
        None (no weight decay, momentum or step count for it)."""
        return [p for p in group["params"] if grad_is_set(p)]

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(k for k in group if k != "params"):
                lines.append(f"    {key}: {group[key]}")
        return "\n".join(lines) + "\n)"


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, dampening, Nesterov momentum and
    (L2-style) weight decay: ``torch.optim.SGD``, the same defaults and the same formulas."""

    def __init__(
        self,
        params: Any,
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = {"lr": lr, "momentum": momentum, "dampening": dampening,
                    "weight_decay": weight_decay, "nesterov": nesterov, "maximize": maximize}
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        for key in ("momentum", "dampening", "weight_decay"):
            group[key] = _real(group[key], key)
        if not group["momentum"] >= 0.0:
            raise ValueError(f"Invalid momentum value: {group['momentum']}")
        if not group["weight_decay"] >= 0.0:
            raise ValueError(f"Invalid weight_decay value: {group['weight_decay']}")
        group["nesterov"], group["maximize"] = bool(group["nesterov"]), bool(group["maximize"])
        if group["nesterov"] and (group["momentum"] <= 0.0 or group["dampening"] != 0.0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")

    def _update(self, group: dict[str, Any]) -> None:
        lr, momentum, dampening = group["lr"], group["momentum"], group["dampening"]
        weight_decay, nesterov, maximize = group["weight_decay"], group["nesterov"], group["maximize"]
        state = self.state
        for p in self._with_grad(group):
            g = -p.grad if maximize else p.grad
            if weight_decay != 0.0:
                g = g + weight_decay * p.data
            if momentum != 0.0:
                st = state.get(p)
                if st is None:  # first step: the buffer is a copy of the gradient, undamped
                    buf = g
                    state[p] = {"momentum_buffer": buf}
                else:
                    buf = st["momentum_buffer"] * momentum + (1 - dampening) * g
                    st["momentum_buffer"] = buf
                g = g + momentum * buf if nesterov else buf
            p.data = p.data + -lr * g


class Adam(Optimizer):
    """Adam (``torch.optim.Adam``): bias-corrected moment estimates, optional L2 weight decay
    added to the gradient, AMSGrad. ``decoupled_weight_decay=True`` is AdamW."""

    def __init__(
        self,
        params: Any,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        decoupled_weight_decay: bool = False,
    ) -> None:
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
                    "amsgrad": amsgrad, "maximize": maximize,
                    "decoupled_weight_decay": decoupled_weight_decay}
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        betas = group["betas"]
        if isinstance(betas, (str, bytes)) or not hasattr(betas, "__len__") or len(betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        group["betas"] = (_real(betas[0], "betas[0]"), _real(betas[1], "betas[1]"))
        group["eps"] = _real(group["eps"], "eps")
        group["weight_decay"] = _real(group["weight_decay"], "weight_decay")
        if not group["eps"] >= 0.0:
            raise ValueError(f"Invalid epsilon value: {group['eps']}")
        for i, beta in enumerate(group["betas"]):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"Invalid beta parameter at index {i}: {beta}")
        if not group["weight_decay"] >= 0.0:
            raise ValueError(f"Invalid weight_decay value: {group['weight_decay']}")
        for key in ("amsgrad", "maximize", "decoupled_weight_decay"):
            group[key] = bool(group[key])

    def _update(self, group: dict[str, Any]) -> None:
        lr, eps, weight_decay = group["lr"], group["eps"], group["weight_decay"]
        beta1, beta2 = group["betas"]
        amsgrad, maximize = group["amsgrad"], group["maximize"]
        decoupled = group["decoupled_weight_decay"]
        # exp_avg.lerp_(grad, 1 - beta1): torch's lerp has two forms, chosen by the weight.
        w1 = 1 - beta1
        small = abs(w1) < 0.5
        c2 = 1 - beta2
        sqrt = math.sqrt
        state = self.state
        for p in self._with_grad(group):
            st = state.get(p)
            if st is None:
                st = state[p] = {"step": 0.0, "exp_avg": 0.0, "exp_avg_sq": 0.0}
                if amsgrad:
                    st["max_exp_avg_sq"] = 0.0
            g = -p.grad if maximize else p.grad
            step = st["step"] + 1.0
            st["step"] = step
            if weight_decay != 0.0:
                if decoupled:
                    p.data = p.data * (1 - lr * weight_decay)
                else:
                    g = g + weight_decay * p.data
            m = st["exp_avg"]
            m = m + w1 * (g - m) if small else g - (g - m) * (1 - w1)
            v = st["exp_avg_sq"] * beta2 + c2 * g * g
            st["exp_avg"], st["exp_avg_sq"] = m, v
            bias_correction1 = 1 - beta1**step
            bias_correction2 = 1 - beta2**step
            step_size = lr / bias_correction1
            bias_correction2_sqrt = bias_correction2**0.5
            if amsgrad:
                vmax = st["max_exp_avg_sq"]
                if v > vmax or v != v:  # torch.maximum: nan wins
                    vmax = st["max_exp_avg_sq"] = v
                denom = sqrt(vmax) / bias_correction2_sqrt + eps
            else:
                denom = sqrt(v) / bias_correction2_sqrt + eps
            p.data = p.data + ieee.div(-step_size * m, denom)  # eps=0, m=0: nan, as torch


class AdamW(Adam):
    """Adam with decoupled weight decay (``torch.optim.AdamW``): each step first multiplies every
    parameter by ``1 - lr * weight_decay``; default ``weight_decay=1e-2``."""

    def __init__(
        self,
        params: Any,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         decoupled_weight_decay=True)
