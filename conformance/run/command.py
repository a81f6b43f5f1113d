"""Who the command line is: its name as the user ran it, the versions a bug report needs, and what
of the harness's dependencies is missing. Imports nothing of the harness (the subcommands and
``python -m vetgrad`` read it without loading the rest)."""

from __future__ import annotations

import os
import sys


def version_text() -> str:
    """``vetgrad 0.1.0 (torch 2.13.0+cpu, Python 3.11.7)``: what a bug report needs, read without
    importing torch (its distribution's metadata)."""
    import importlib.metadata
    import platform

    from vetgrad import __version__

    try:
        torch = "torch " + importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        torch = "torch not installed"
    return f"vetgrad {__version__} ({torch}, Python {platform.python_version()})"


def prog_name() -> str:
    """How the user ran the command line, for usage lines: the console script or ``python -m``."""
    script = os.path.basename(sys.argv[0] if sys.argv else "")
    return script if script.startswith("vetgrad-") else "python -m vetgrad.conformance"


def missing_extra() -> str | None:
    """What the harness needs that is not installed (the conformance extra), in one line."""
    import importlib.util

    missing = [m for m in ("torch", "numpy", "mpmath") if importlib.util.find_spec(m) is None]
    if not missing:
        return None
    from vetgrad._extras import install_hint

    return (f"the conformance harness needs {', '.join(missing)}, which "
            f"{'is' if len(missing) == 1 else 'are'} not installed: {install_hint('conformance')}")
