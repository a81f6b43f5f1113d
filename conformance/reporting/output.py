"""Output files: checked before a campaign starts, written atomically (a temporary file beside
the target, then renamed over it)."""

from __future__ import annotations

import contextlib
import os
import tempfile


def check_output_path(path: str, option: str = "--json") -> str | None:
    """Why ``path`` cannot be written (checked before the run), or None; '-' is stdout.
    ``option`` is the option that named it, for the message."""
    if path == "-":
        return None
    if os.path.isdir(path):
        return f"{option} {path}: is a directory"
    folder = os.path.dirname(os.path.abspath(path))
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".vetgrad-check-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        return f"{option} {path}: cannot write there ({exc.strerror or exc})"
    if os.path.exists(path) and not os.access(path, os.W_OK):
        return f"{option} {path}: not writable"
    return None


def write_atomically(path: str, text: str) -> None:
    """Write a temporary file beside ``path``, then rename it over ``path``: a reader sees the
    old file or the new one, never a part (a signal meanwhile is only noted, see interrupt)."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
