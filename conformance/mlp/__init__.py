"""The learner's MLP and training loop checked against torch (docs/ladder.md judges the numbers):
:func:`check_mlp` (forward, parameter layout, activations, every parameter's gradient) and
:func:`check_training` (each step of their own loop against ``torch.optim.SGD``), both returning
the expression harness's :class:`~vetgrad.conformance.judging.results.Report`.

Modules, one job each: ``learner`` (loading and calling the learner's code, guarded), ``layout``
(their flat ``parameters()`` as torch's layers, activations, by matching forward outputs),
``torch_net`` (the float64 reference), ``localise`` (which layer and neuron differs, in words),
``gradients``, ``training``, ``findings`` (the report), ``reproducer``, ``report_text``,
``report_json``, ``plot``, ``cli`` (``vetgrad-conformance mlp``), ``pytest_items`` (the
plugin's ``--vetgrad-mlp``), ``grade_column`` (grade's MLP column) and ``api``.

The learner's model runs in this process (unlike an engine under ``check_engine``): an exception
in their code is a finding, a call that runs past its deadline is stopped by SIGALRM when the
check runs in the main thread (a hang in C code, or off the main thread, is not caught)."""

from __future__ import annotations

from typing import Any

__all__ = ["check_mlp", "check_training"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from vetgrad.conformance.mlp import api

        return getattr(api, name)
    raise AttributeError(f"module 'vetgrad.conformance.mlp' has no attribute {name!r}")
