"""The report as JSON (``--json``), following conformance/report.schema.json."""

from __future__ import annotations

import argparse
import platform
import sys
from typing import Any

from vetgrad.conformance.judging.results import Report
from vetgrad.conformance.reporting.text import CHECKS, HELPERS, op_status, tested_forms

SCHEMA_VERSION = 1  # conformance/report.schema.json; a new version only adds fields


def _vetgrad_version() -> str:
    from vetgrad.engine import __version__

    return __version__


def _engine_module(spec: Any) -> str | None:
    return spec.partition(":")[0] if isinstance(spec, str) else getattr(spec, "__module__", None)


def _engine_version(spec: Any) -> str | None:
    """The engine module's ``__version__``, else its top package's distribution version."""
    import importlib
    import importlib.metadata

    name = _engine_module(spec)
    if not name or name.endswith(".py") or "/" in name or "\\" in name:
        return None  # an engine given by path (path/to/engine.py:Value) is no distribution
    module = sys.modules.get(name)
    version = getattr(module, "__version__", None) if module is not None else None
    if version is None:
        top = name.split(".")[0]
        version = getattr(sys.modules.get(top), "__version__", None)
        if version is None:
            try:
                version = importlib.metadata.version(top)
            except importlib.metadata.PackageNotFoundError:
                return None
    return str(version)


def _options(args: argparse.Namespace) -> dict[str, Any]:
    """Every option of the run as plain JSON values."""
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in sorted(vars(args).items())}


def report_json(report: Report, args: argparse.Namespace) -> dict[str, Any]:
    import torch

    return {
        "schema_version": SCHEMA_VERSION, "vetgrad_version": _vetgrad_version(),
        "engine_module": _engine_module(args.engine),
        "engine_version": _engine_version(args.engine),
        "command_line": list(sys.argv), "options": _options(args),
        "engine": report.engine, "seed": report.seed, "strict": report.strict,
        "devices": report.devices, "graphs": report.graphs, "passed": report.passed,
        "failed": report.failed, "imprecise_graphs": report.imprecise_graphs,
        "elapsed_seconds": report.elapsed, "max_nodes": args.max_nodes, "shard": list(args.shard),
        "versions": {"python": platform.python_version(), "torch": torch.__version__},
        "level": report.level, "precision": report.precision,
        "levels": {level: {"passed": reached, "failed_graphs": report.failed_at[level],
                           "failing_ops": sorted({op for _, by_op in causes for op in by_op}),
                           "causes": [{"cause": c, "graphs_by_op": by_op} for c, by_op in causes]}
                   for level, reached, causes in report.ladder()},
        "per_op": {name: vars(st) | {"status": op_status(report, name)}
                   for name, st in report.per_op.items()}
                  | {name: {"status": "unsupported"} for name, forms in report.unsupported.items()
                     if not forms},
        "unsupported": report.unsupported,
        "failing_graphs_by_first_finding": report.kinds,
        "findings": [f.to_json() for f in report.findings],
        "consequences": [{"level": lv, "cause": c, "op": op, "reached": reached}
                         for (lv, c, op), reached in report.consequences.items()],
        "composition": {op: list(parts) for op, parts in report.composition.items()},
        "spelled": report.spelled,
        # added in version 1 (no field above changed meaning): "graphs" counts both kinds
        "random_graphs": {"graphs": report.random_graphs, "failed": report.random_failed,
                          "passed": report.random_graphs - report.random_failed,
                          "failed_by_level": {lv: report.failed_at[lv] - report.sweep_failed_at[lv]
                                              for lv in report.failed_at}},
        "edge_sweep_graphs": {"graphs": report.sweep_graphs, "failed": report.sweep_failed,
                              "passed": report.sweep_graphs - report.sweep_failed,
                              "failed_by_level": dict(report.sweep_failed_at)},
        "tested": {"ops": len(tested := tested_forms(report)),
                   "forms": sum(len(v) for v in tested.values()), "forms_by_op": tested},
        "not_asked": {name: HELPERS.get(name, "a finding names it") for name in report.per_op
                      if name not in report.ops and name not in CHECKS},
        **({"interrupted": True} if report.interrupted else {}),
        **({"stopped": report.stopped} if report.stopped else {}),
    }
