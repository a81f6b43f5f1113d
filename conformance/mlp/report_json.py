"""An MLP check's report as JSON: the fields every report of conformance/report.schema.json has
(one "graph" per model built and per training run), plus ``mlp``: what was detected of each
model and the training curves."""

from __future__ import annotations

import platform
import sys
from typing import Any

from vetgrad.conformance.mlp.findings import MlpReport

SCHEMA_VERSION = 1  # conformance/report.schema.json (the mlp field added to version 1)


def report_json(report: MlpReport, options: dict[str, Any]) -> dict[str, Any]:
    import torch
    from vetgrad.engine import __version__

    model = options.get("model") if isinstance(options.get("model"), str) else report.engine
    return {
        "schema_version": SCHEMA_VERSION, "vetgrad_version": __version__,
        "engine": report.engine, "engine_module": model.rpartition(":")[0] or None,
        "engine_version": None, "command_line": list(sys.argv), "options": options,
        "seed": report.seed, "strict": report.strict, "level": report.level,
        "precision": report.precision, "devices": report.devices, "graphs": report.graphs,
        "passed": report.passed, "failed": report.failed, "elapsed_seconds": report.elapsed,
        "versions": {"python": platform.python_version(), "torch": torch.__version__},
        "levels": {level: {"passed": reached, "failed_graphs": report.failed_at[level],
                           "failing_ops": sorted({op for _, by in causes for op in by}),
                           "causes": [{"cause": c, "graphs_by_op": by} for c, by in causes]}
                   for level, reached, causes in report.ladder()},
        "per_op": {name: vars(st) | {"status": "fail" if st.failed else "ok"}
                   for name, st in report.per_op.items()},
        "unsupported": {},
        "findings": [f.to_json() for f in report.findings],
        "mlp": {"model": report.engine, "step": report.step,
                "models": [d.to_json() for d in report.detected], "training": report.training},
    }
