"""Float comparison in units in the last place (ulps), with nan/inf/signed-zero classes.

Pure Python (no torch), shared by the harness and the tests.
"""

from __future__ import annotations

import math
import struct

_pack = struct.Struct("<d").pack
_unpack = struct.Struct("<q").unpack


def float_class(x: float) -> str:
    """'nan', '+inf', '-inf', '+0', '-0' or 'finite': what must match exactly between engines."""
    if x != x:
        return "nan"
    if math.isinf(x):
        return "+inf" if x > 0 else "-inf"
    if x == 0.0:
        return "-0" if math.copysign(1.0, x) < 0 else "+0"
    return "finite"


def _ordinal(x: float) -> int:
    """Position of ``x`` on the line of float64s, so that adjacent floats differ by 1."""
    (i,) = _unpack(_pack(x))
    return i if i >= 0 else -(i & 0x7FFFFFFFFFFFFFFF)


def ulp_distance(a: float, b: float) -> float:
    """How many float64s lie between ``a`` and ``b`` (0 when equal; inf when classes differ or
    either is non-finite and they are not identical)."""
    ca, cb = float_class(a), float_class(b)
    if ca != "finite" or cb != "finite":
        if ca == cb:
            return 0.0
        # +0 vs a finite neighbour: still a distance, but the sign of zero is a class of its own
        if {ca, cb} <= {"+0", "-0", "finite"} and "finite" in (ca, cb):
            return float(abs(_ordinal(a) - _ordinal(b)))
        return math.inf
    return float(abs(_ordinal(a) - _ordinal(b)))


def class_difference(mine: float, theirs: float) -> str | None:
    """How ``mine`` differs from torch's ``theirs`` in class, in words, or None when they are of
    one class (finite numbers of one sign count as one class): ``nan where torch gives 0.5``,
    ``-0.0 vs torch's 0.0 (the sign of a zero)``. An ulp distance across classes (or across 0)
    counts the floats between them, a 19-digit number that says nothing."""
    cm, ct = float_class(mine), float_class(theirs)
    if cm == ct and (cm != "finite" or (mine > 0) == (theirs > 0)):
        return None
    if {cm, ct} == {"+0", "-0"}:
        return f"{mine!r} vs torch's {theirs!r} (the sign of a zero)"
    return f"{mine!r} where torch gives {theirs!r}"


def versus(mine: float, theirs: float) -> str:
    """``mine`` against torch's ``theirs`` for a finding's message: the class difference when
    there is one, else both numbers (``0.75, torch 0.5``)."""
    if not (isinstance(mine, float) and isinstance(theirs, float)):
        return f"{mine!r}, torch {theirs!r}"
    return class_difference(mine, theirs) or f"{mine!r}, torch {theirs!r}"
