"""Specimen engines for the harness self-test: a textbook micrograd-style engine with PyTorch's
float64 semantics (textbook.py) and a catalog of one-bug mutants of it (mutants.py)."""
