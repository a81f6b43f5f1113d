"""The harness's exceptions about the engine under test, in one place. conformance/'s top level:
every layer may import it, and it imports nothing (the engine's process loads it too). The
modules that raise them re-export them where they were first defined
(``conformance.subject.adapters``, ``.execute``, ``.session``)."""

from __future__ import annotations


class EngineLoadError(Exception):
    """The engine named on the command line cannot be used (exit status 2)."""


class NothingCheckedError(EngineLoadError):
    """A campaign would check nothing that was asked (its first leaf cannot be made, it offers no
    op, an op asked by name is not offered) or checked no random graph: a usage error (exit
    status 2), never a pass. The message says why."""


class WrongResultError(Exception):
    """An op of the engine returned something that is not one of its nodes."""


class EngineFailureError(Exception):
    """The engine did not answer: it hung, or its process died or broke the protocol."""


class EngineTimeoutError(EngineFailureError):
    """The engine spent longer than the graph timeout on one graph."""


class ProbeError(EngineFailureError):
    """The engine's process was lost in the probe, in op ``op``."""

    def __init__(self, op: str, message: str) -> None:
        super().__init__(message)
        self.op = op
