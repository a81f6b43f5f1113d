"""``python -m vetgrad.conformance``: the command line (vetgrad.conformance.run.cli). Every part of
vetgrad lives under the one name ``vetgrad``, so a learner's ``engine.py``, ``nn.py`` or
``conformance.py`` in the current folder shadows nothing of ours and is found as ``--engine``."""

import sys

from vetgrad.conformance.run.cli import main

sys.exit(main())
