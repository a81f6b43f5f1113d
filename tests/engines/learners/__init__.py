"""Learner-style engines: micrograd-style ``Value`` classes written the way people write them after
the micrograd lecture (``set`` ``_prev``, recursive topological sort, tanh via exp, number-only
``__pow__``), correct (lecture.py) and with one learner's bug each. variants.py makes the
single-replacement variants of lecture.py (the ``=`` for ``+=`` bug in each op, an unreversed
order, a tuple ``_prev``)."""
