"""Learner-style engines: micrograd-style ``Value`` classes written the way people write them after
the micrograd lecture (``set`` ``_prev``, recursive topological sort, tanh via exp, number-only
``__pow__``): lecture.py, correct, and variants.py, which makes from it by exact replacement the
single-bug variants (the ``=`` for ``+=`` bug in each op, an unreversed order, whole-engine
faults) and the learners' own engine files (``math.exp(self)``, ``other.data`` on a float, a
constructor that needs a label, a deliberate refusal, a self-recursive ``__sub__``, an exact
sigmoid', a scaled tanh'), each written out as a file of its own where a test needs a path."""
