"""Benchmarks: vetgrad against micrograd 0.1.0 and PyTorch (CPU, and CUDA when present).

Two ways in, sharing the same workloads and contenders:

- ``pytest benchmarks -p no:xdist --benchmark-only`` (``tox -e bench``): pytest-benchmark suites,
  one group per area (``dag``, ``chain``, ``mlp``, ``harness``), sizes as parameters.
- ``python -m vetgrad.benchmarks`` (``tox -e report``): a quick run of every suite (the graph suites with
  each contender in its own worker process), printed as Markdown with each contender's ratio to
  vetgrad, memory per node and the issue's targets.

Modules: ``contenders`` (who is timed), ``workloads`` (random DAGs and deep chains), ``mlp`` (the
training step), ``harness`` (graphs checked per second), ``memory`` (bytes per node), ``timing``
(repeated rounds), ``machine`` (machine info), ``runner`` (runs the suites for the report),
``worker`` (one contender per process, for the report's graph suites),
``markdown`` (the tables), ``plot`` (the log-log plot) and ``report`` (the command line).
"""
