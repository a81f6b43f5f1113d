"""grade's MLP column: a student's folder holding a model (``nn.py`` or ``mlp.py`` defining
``class MLP``, and, when that file defines ``def step(``, its training step) is checked by
``python -m vetgrad.conformance mlp`` in that folder, under grade's timeout; the row gets
``pass``, ``fail`` (with the first finding), ``error`` (the model does not load) or ``timed out``."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from typing import Any

FILES = ("mlp.py", "nn.py")


def model_in(folder: str) -> tuple[str, str | None] | None:
    """``("./mlp.py:MLP", "./mlp.py:step" or None)`` for the first model file in ``folder``."""
    for name in FILES:
        path = os.path.join(folder, name)
        if not os.path.isfile(path):
            continue
        try:
            with open(path, encoding="utf-8", errors="replace") as fh:
                text = fh.read()
        except OSError:
            continue
        if re.search(r"^class MLP\b", text, re.M):
            step = f"./{name}:step" if re.search(r"^def step\(", text, re.M) else None
            return f"./{name}:MLP", step
    return None


def check(folder: str, timeout: float) -> tuple[str, str]:
    """(verdict, first finding) of the model in ``folder``; ("", "") when it holds none."""
    found = model_in(folder)
    if found is None:
        return "", ""
    model, step = found
    with tempfile.TemporaryDirectory(prefix="vetgrad-grade-mlp-") as tmp:
        out = os.path.join(tmp, "mlp.json")
        cmd = [sys.executable, "-m", "vetgrad.conformance", "mlp", "--model", model, "--json", out,
               "--show", "0", *(["--step", step] if step else [])]
        try:
            run = subprocess.run(cmd, cwd=folder, stdin=subprocess.DEVNULL, capture_output=True,
                                 text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return "timed out", f"mlp: killed after {timeout:g} s"
        data: dict[str, Any] | None = None
        if os.path.exists(out):
            with open(out, encoding="utf-8") as fh:
                data = json.load(fh)
    if data is None:
        lines = [line for line in run.stderr.splitlines() if line.strip()]
        return "error", f"mlp: {lines[-1] if lines else f'exit status {run.returncode}'}"
    if data["failed"]:
        first = data["findings"][0]
        return "fail", f"mlp {first.get('shape', '')} {first['op']}: {first['message']}"
    return "pass", ""


def add_column(row: Any, folder: str, timeout: float) -> None:
    """Set ``row.mlp`` (and ``row.mlp_finding``) from the model in ``folder``, if any."""
    verdict, finding = check(folder, timeout)
    if verdict:
        row.mlp, row.mlp_finding = verdict, finding
