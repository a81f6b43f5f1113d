"""``python -m conformance``. Python puts the current folder first on sys.path: a learner's own
``engine.py`` there would shadow vetgrad's ``engine`` package while the harness imports it (a crash
on ``engine.ops``). The folder goes to the end instead, where an ``--engine`` module in it is still
found (and ``--engine engine:Value`` is refused with the fix, see conformance.engine_spec)."""

import os
import sys

import conformance

_ours = os.path.dirname(os.path.dirname(os.path.abspath(conformance.__file__)))
if sys.path and os.path.abspath(sys.path[0] or os.curdir) == os.getcwd() != _ours:
    sys.path.append(sys.path.pop(0))

from conformance.cli import main  # noqa: E402 - after the path is set

sys.exit(main())
