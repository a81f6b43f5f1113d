"""``python -m vetgrad``: what is installed and where to start."""

import sys

from vetgrad.conformance.run.command import version_text

print(version_text())
print("check an engine:  python -m vetgrad.conformance --engine path/to/engine.py:Value")
print("benchmarks:       python -m vetgrad.benchmarks --help")
sys.exit(0)
