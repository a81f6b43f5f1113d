"""What the workers' fork server imports before it forks any worker (conformance.workers): the
harness, and torch loaded and frozen out of the cyclic GC, so that every worker starts with both
(and shares their pages) and the server's own exit does not walk them."""

import os
import signal
import sys

# A Ctrl-C reaches the server too (one process group): the harness stops the workers itself, and
# the server would die mid-import with a traceback on the user's terminal. (The server ignores
# SIGINT from then on anyway; each worker notes it again, conformance.interrupt.)
signal.signal(signal.SIGINT, signal.SIG_IGN)

# The server starts as `python -c`, which puts the current folder first on sys.path, where a
# learner's engine.py would stand in for vetgrad's engine package: it goes to the end (as in
# conformance.__main__). Each worker then takes the run's own sys.path (workers._setting).
if sys.path and os.path.abspath(sys.path[0] or os.curdir) == os.getcwd():
    sys.path.append(sys.path.pop(0))

from conformance import campaign  # noqa: E402,F401 - the harness every worker runs
from conformance.torch_ref import load_torch  # noqa: E402

load_torch()
