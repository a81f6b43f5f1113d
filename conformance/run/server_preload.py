"""What the workers' fork server imports before it forks any worker (conformance.run.workers): the
harness, and torch loaded and frozen out of the cyclic GC, so that every worker starts with both
(and shares their pages) and the server's own exit does not walk them."""

import signal

# A Ctrl-C reaches the server too (one process group): the harness stops the workers itself, and
# the server would die mid-import with a traceback on the user's terminal. (The server ignores
# SIGINT from then on anyway; each worker notes it again, conformance.interrupt.)
signal.signal(signal.SIGINT, signal.SIG_IGN)

from vetgrad.conformance.reference.torch_run import load_torch  # noqa: E402
from vetgrad.conformance.run import campaign  # noqa: E402,F401 - the harness every worker runs

load_torch()
