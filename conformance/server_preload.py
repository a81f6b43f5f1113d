"""What the workers' fork server imports before it forks any worker (conformance.workers): the
harness, and torch loaded and frozen out of the cyclic GC, so that every worker starts with both
(and shares their pages) and the server's own exit does not walk them."""

from conformance import campaign  # noqa: F401 - the harness every worker runs
from conformance.torch_ref import load_torch

load_torch()
