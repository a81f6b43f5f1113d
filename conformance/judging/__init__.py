"""Verdicts: one number, one op alone, one graph end to end, the ladder's levels, the results."""
