"""The engine processes' starter is started before torch is imported (conformance.subject.process.
prestart) and taken by the first session started in the same folder with the same PYTHONPATH;
one started elsewhere is dropped, never used for another folder's engine."""

from __future__ import annotations

from pathlib import Path

import pytest
from vetgrad.conformance.subject import process as EP  # noqa: N812 - short name
from vetgrad.conformance.subject.session import ChildEngine
from vetgrad.conformance.subject.spec import engine_spec


@pytest.mark.parametrize(("move", "taken"), [(False, True), (True, False)])
def test_a_prestarted_starter_is_taken_only_where_it_was_started(
        move: bool, taken: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    EP._PRESTARTED.clear()
    EP.prestart()
    ((proc, _, _),) = EP._PRESTARTED
    if move:
        monkeypatch.chdir(tmp_path)
    session = ChildEngine(engine_spec("vetgrad.engine:Value"))
    try:
        session.start()
        assert (session._zproc is proc) is taken
        assert session.forms()["tanh"] == ("n",)
    finally:
        session.close()
    assert not EP._PRESTARTED
    if not taken:
        assert proc.wait(timeout=10) is not None  # the one dropped exits with its socket
