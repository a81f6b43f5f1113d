"""vetgrad's differential conformance harness: random expression graphs run in an engine and in
PyTorch, values and gradients judged op by op and end to end. ``python -m vetgrad.conformance --help``.

The names below are imported on first use, so that the engine's own process
(:mod:`conformance.subject.server`) can import the few modules it needs without the judge or torch."""

from __future__ import annotations

from typing import Any

_WHERE = {"Adapter": "subject.adapters", "ValueClassAdapter": "subject.adapters", "load_adapter": "subject.adapters",
          "ConformanceError": "run.api", "check_engine": "run.api", "check_graph": "run.api",
          "run_campaign": "run.campaign", "graphs": "dags.generate", "random_graph": "dags.generate",
          "Const": "dags.graph", "Graph": "dags.graph", "Node": "dags.graph", "Report": "judging.results",
          "check_mlp": "mlp.api", "check_training": "mlp.api"}

__all__ = ["Adapter", "ConformanceError", "Const", "Graph", "Node", "Report", "ValueClassAdapter",
           "check_engine", "check_graph", "check_mlp", "check_training", "graphs", "load_adapter",
           "random_graph", "run_campaign"]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'conformance' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"vetgrad.conformance.{_WHERE[name]}"), name)
