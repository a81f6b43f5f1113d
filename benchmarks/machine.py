"""What the numbers were measured on: CPU model, Python, torch and its device, micrograd, load."""

from __future__ import annotations

import gc
import os
import platform
from typing import Any

from vetgrad.benchmarks.contenders import micrograd_version


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, ``platform.processor()`` elsewhere)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def info() -> dict[str, Any]:
    """Machine facts for the report and for pytest-benchmark's ``machine_info``."""
    out: dict[str, Any] = {
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "gc_thresholds": list(gc.get_threshold()),
        "micrograd": micrograd_version() or "absent",
    }
    if hasattr(os, "getloadavg"):
        out["load_average"] = [round(x, 2) for x in os.getloadavg()]
    try:
        import torch
    except ImportError:
        out["torch"] = "absent"
        return out
    out["torch"] = torch.__version__
    out["torch_threads"] = torch.get_num_threads()
    if torch.cuda.is_available():
        out["cuda_device"] = torch.cuda.get_device_name(0)
        out["cuda"] = torch.version.cuda
    else:
        out["cuda_device"] = "absent (no CUDA device)"
    return out


def set_torch_threads(threads: int) -> None:
    """``torch.set_num_threads(threads)`` when torch is installed; 0 leaves torch's default.

    One thread is the default of both the report and the suites: every tensor here is tiny
    (0-d, or 32 x 16), so intra-op threads cannot help, and on a busy 2-core machine OpenMP's
    hand-offs turn a 2 µs float64 matmul into ~30 ms.
    """
    if threads <= 0:
        return
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(threads)
