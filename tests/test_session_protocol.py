"""The engine session's written interface (conformance.subject.session.EngineSession): both
sessions, the engine in its own process (ChildEngine) and in the harness's (LocalEngine), have
every method it names with the same parameters, and every attribute."""

from __future__ import annotations

import inspect

import pytest
from vetgrad.conformance.subject.adapters import load_adapter
from vetgrad.conformance.subject.execute import LocalEngine
from vetgrad.conformance.subject.session import ChildEngine, EngineSession
from vetgrad.conformance.subject.spec import engine_spec

METHODS = sorted(name for name, member in vars(EngineSession).items()
                 if inspect.isfunction(member) and not name.startswith("_"))


def test_the_protocol_names_what_the_campaign_calls() -> None:
    assert {"forms", "submit", "collect", "run", "derivatives", "fresh", "close"} <= set(METHODS)


@pytest.mark.parametrize("cls", [ChildEngine, LocalEngine])
@pytest.mark.parametrize("method", METHODS)
def test_each_session_has_each_method_with_its_parameters(cls: type, method: str) -> None:
    wanted = inspect.signature(getattr(EngineSession, method))
    have = inspect.signature(getattr(cls, method))
    assert [(p.name, p.kind) for p in have.parameters.values()][:len(wanted.parameters)] == \
        [(p.name, p.kind) for p in wanted.parameters.values()], (cls.__name__, method)
    extra = list(have.parameters.values())[len(wanted.parameters):]
    assert all(p.default is not inspect.Parameter.empty or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
               for p in extra), (cls.__name__, method, extra)


def test_both_sessions_are_engine_sessions() -> None:
    local = LocalEngine(load_adapter("vetgrad.engine:Value"))
    child = ChildEngine(engine_spec("vetgrad.engine:Value"))  # (no process until it is asked)
    try:
        assert isinstance(local, EngineSession) and isinstance(child, EngineSession)
    finally:
        local.close()
        child.close()
