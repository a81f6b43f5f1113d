"""Hostile engines: vetgrad's own engine behind an adapter, with one op made to misbehave the
way an untrusted engine can (exit, crash, hang, tamper with torch, print, keep state, ...).
Each module is importable as ``tests.engines.hostile.<name>:Value`` (an Adapter subclass named
Value, as ``--engine`` accepts). The misbehaviour is triggered by tanh of TRIGGER (an edge value
the edge sweep always holds, that random graphs rarely reach), so that the probe (tanh of 0.7)
and most graphs run normally; tests/test_isolation.py holds each one's expected verdict."""

from __future__ import annotations

from typing import Any, Sequence

from vetgrad.conformance.subject.adapters import ValueClassAdapter
from vetgrad.engine import Value as _Value
from vetgrad.engine.ops import Op

TRIGGER = -20.0


class Hostile(ValueClassAdapter):
    """Our engine, except that tanh of TRIGGER calls :meth:`misbehave`."""

    op = "tanh"

    def __init__(self) -> None:
        super().__init__(_Value, name=f"{type(self).__module__}:Value")

    def triggered(self, op: Op, args: Sequence[Any]) -> bool:
        return op.name == self.op and self.value(args[0]) == TRIGGER

    def apply(self, op: Op, args: Sequence[Any], params: tuple[Any, ...]) -> Any:
        if self.triggered(op, args):
            self.misbehave()
        return super().apply(op, args, params)

    def misbehave(self) -> None:
        raise NotImplementedError
