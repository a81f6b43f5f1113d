"""What to install when an optional dependency is missing: the one text every such message uses.

Imports nothing, so that ``vetgrad.engine`` (zero dependencies, never importing the harness) can
use it as well as the harness, nn, the benchmarks and the reproducers' scripts.
"""

from __future__ import annotations

from typing import Sequence

# PyTorch's CPU-only wheel: a plain `pip install torch` pulls a CUDA build of several GB on Linux
TORCH_CPU = "pip install torch --index-url https://download.pytorch.org/whl/cpu"

# the extras of pyproject.toml that bring torch (directly or through vetgrad[conformance])
_WITH_TORCH = frozenset({"conformance", "bench", "cluster"})


def install_hint(extra: str | None = None, packages: Sequence[str] = ()) -> str:
    """The pip command for what is missing: vetgrad's ``extra`` (from an index and from a clone of
    vetgrad, where vetgrad may be on no index), else the bare ``packages``, else vetgrad itself;
    and, when that brings torch, how to get its CPU-only wheel.

    >>> install_hint("plot")
    "pip install 'vetgrad[plot]' (in a clone of vetgrad: pip install -e '.[plot]')"
    >>> install_hint(packages=["numpy"])
    'pip install numpy'
    """
    if extra:
        text = f"pip install 'vetgrad[{extra}]' (in a clone of vetgrad: pip install -e '.[{extra}]')"
    elif packages:
        text = "pip install " + " ".join(packages)
    else:
        text = "pip install vetgrad (in a clone of vetgrad: pip install -e .)"
    if extra in _WITH_TORCH or "torch" in packages:
        text += f"; for PyTorch's CPU-only wheel (no multi-GB CUDA download): {TORCH_CPU}"
    return text
