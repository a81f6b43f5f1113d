"""Issue 21 item 9: no engine crashes the harness. Engines that break the interpreter's rules (a C
extension whose ``**`` returns a result with an exception set), return foreign objects, or lose
their process in any phase (probe, load, a graph of a batch, higher derivatives, confirmation and
shrinking in fresh processes) get a complete report (text and JSON), exit 1 and a finding that
names what they did; never a harness traceback, never exit 2."""

from __future__ import annotations

import glob
import json
import os
import shutil
import sysconfig
import tempfile
from pathlib import Path

import pytest

pytest.importorskip("torch", reason="the harness compares with PyTorch")

from vetgrad.conformance.run.cli import main

pytestmark = pytest.mark.torch
HOSTILE = "tests/engines/hostile"


def _no_compiler() -> str | None:
    """Why tests/engines/hostile/exception_set.py cannot build its C extension here."""
    if not (shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")):
        return "no C compiler (cc or gcc) on PATH"
    if not Path(sysconfig.get_paths()["include"], "Python.h").exists():
        return "no Python.h (the Python development headers)"
    return None


@pytest.fixture(autouse=True)
def _no_markers():
    """loads_once and crash_in_fresh keep a marker file per harness process starter."""
    yield
    for path in glob.glob(os.path.join(tempfile.gettempdir(), "vetgrad-*-once-*")) + \
            glob.glob(os.path.join(tempfile.gettempdir(), "vetgrad-crash-in-fresh-*")):
        os.remove(path)


def campaign(engine: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], *extra: str,
             workers: int = 1) -> tuple[int, dict, str, str]:
    path = tmp_path / "r.json"
    code = main(["--engine", engine, "--graphs", "200", "--max-nodes", "6", "--graph-timeout", "2",
                 "--device", "cpu", "--workers", str(workers), "--json", str(path), *extra])
    out, err = capsys.readouterr()
    return code, json.loads(path.read_text()), out, err


def _complete(code: int, data: dict, out: str, err: str) -> None:
    """Exit 1, a report to its summary line in text and in JSON, and no harness traceback."""
    assert code == 1, (out, err)
    assert "Traceback" not in out + err, err
    assert out.strip().splitlines()[-1] == f"{data['passed']} passed, {data['failed']} failed"
    assert data["findings"] and data["failed"] > 0


# engine -> texts every one of which some finding's message holds (and the text report shows)
RULE_BREAKERS = {
    # a C slot (nb_power) returns its result with ValueError set: pow, and div built from it
    f"{HOSTILE}/exception_set.py:Value": (
        "the engine broke the interpreter's rules in pow (node",
        "the engine broke the interpreter's rules in div (node",
        "returned a result with an exception set (ValueError: math domain error was left set)"),
    # pow returns a Foreign, tanh a Value whose data is a str, exp a masquerade whose data raises
    # an exception that cannot say itself
    f"{HOSTILE}/foreign.py:Value": (
        "pow returned a Foreign, not a Value",
        "the engine's value is not a real number: '",
        "UnprintableError: <str() of this UnprintableError raised RuntimeError>"),
    # its process dies in the probe (tanh of the probe's input)
    "tests.engines.hostile.segfault_probe:Value": (
        "the engine was killed by SIGSEGV in the probe of tanh",),
}


@pytest.mark.parametrize(("engine", "workers"), [(e, w) for e in RULE_BREAKERS for w in (1, 2)])
@pytest.mark.slow
def test_an_engine_that_breaks_the_rules_gets_a_complete_report(
        engine: str, workers: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if "exception_set" in engine and _no_compiler():
        pytest.skip(f"the C extension cannot be built: {_no_compiler()}")
    code, data, out, _ = campaign(engine, tmp_path, capsys, workers=workers)
    _complete(code, data, out, _)
    messages = [f["message"] for f in data["findings"]]
    for text in RULE_BREAKERS[engine]:
        assert any(text in m for m in messages), (text, messages)
        assert text in out
    if "exception_set" in engine:  # the cause is named, never 'the engine's process was lost'
        assert {f["cause"] for f in data["findings"] if f["level"] == "math"} == {
            "breaks the interpreter's rules (C code returned a result with an exception set, or "
            "NULL without one)"}


# phase -> (engine, options, text in some finding)
PHASES = {
    "probe": ("segfault_probe", (), "the engine was killed by SIGSEGV in the probe of tanh"),
    "graph k of a batch": ("segfault", (), "the engine was killed by SIGSEGV in tanh (node 1, forward)"),
    "load in a fresh process": ("loads_once", (), "the engine was killed by SIGSEGV in tanh (node"),
    "higher derivatives": ("segfault_grad", ("--higher-order", "2"),
                           "the engine was killed by SIGSEGV in the higher-order check (grad_of)"),
    "confirmation and shrinking": ("crash_in_fresh", (), "tanh(-20.0) = 0.5 where torch gives -1.0"),
}


@pytest.mark.parametrize("phase", list(PHASES))
@pytest.mark.slow
def test_a_lost_process_in_any_phase_is_a_verdict(phase: str, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    name, extra, says = PHASES[phase]
    code, data, out, err = campaign(f"tests.engines.hostile.{name}:Value", tmp_path, capsys,
                                    "--ops", "tanh,add", "--level", "torch", "--max-findings", "400",
                                    *extra)
    _complete(code, data, out, err)
    messages = [f["message"] for f in data["findings"]]
    assert any(says in m for m in messages), (says, messages[:5])
    if phase == "load in a fresh process":  # every later graph: a verdict that says why
        assert data["graphs"] == 205 and data["passed"] + data["failed"] == 205
        assert any("a fresh one could not load the engine again (cannot import module" in m
                   and "this engine loads once only" in m for m in messages)


# -- the harness's side, without processes: what a lost or misbehaving process sends is checked --

def _graph():
    from vetgrad.conformance.dags.graph import Graph, Node

    return Graph((Node("leaf", value=0.5), Node("tanh", (0,))))


def _good():
    import math

    from vetgrad.conformance.subject.protocol import GraphAnswer

    t = math.tanh(0.5)
    return GraphAnswer(values=[0.5, t], crash=None, backward_error=None, grads=[1 - t * t, 1.0],
                       repeat_error=None, repeat_node=-1, alone=[(t, (1 - t * t,), None)], output="",
                       repeat_grads=[2 * (1 - t * t), 2.0])


@pytest.mark.parametrize(("node", "phase", "says"), [
    (1, 0, "in tanh (node 1, forward)"), (9, 0, "in tanh (node 1, forward)"),
    (-3, 2, "in leaf (node 0, run alone)"), (1, 1, "in backward()"),
    (1, 7, "in tanh (node 1, an unknown step)"), (1, -1, "in tanh (node 1, an unknown step)")])
def test_where_is_total(node: int, phase: int, says: str) -> None:
    from vetgrad.conformance.subject.execute import where

    assert where(_graph(), node, phase) == says


def _bad_answers() -> dict[str, tuple]:
    good = _good()
    but = good._replace

    return {"a plain tuple": ("graph", *good), "an error": ("error", "boom"),
            "few values": but(values=[0.5]), "values not numbers": but(values=["a", 1.0]),
            "a crash past the graph": but(crash=(5, "x")), "a crash of one field": but(crash=(1,)),
            "grads of the wrong length": but(grads=[1.0]), "an error that is no text": but(backward_error=7),
            "an op alone that is no triple": but(alone=[(1.0,)]), "another kind": ("ok", good)}


@pytest.mark.parametrize("case", list(_bad_answers()))
def test_a_malformed_answer_is_a_broken_protocol(case: str) -> None:
    from vetgrad.conformance.subject.process import _LostError
    from vetgrad.conformance.subject.session import _graph_run

    assert _graph_run(_graph(), _good()).run.values[0] == 0.5
    with pytest.raises(_LostError, match="broke the protocol"):
        _graph_run(_graph(), _bad_answers()[case])


@pytest.mark.parametrize(("mark", "says", "op"), [
    ((0, 1, 0), "killed by SIGSEGV in tanh (node 1, forward)", None),
    ((0, 1, 1), "killed by SIGSEGV in backward()", "graph"),
    ((3, 1, 0), "killed by SIGSEGV before the graph's first step", "graph"),   # another graph's
    ((-1, 17, 4), "killed by SIGSEGV before the graph's first step", "graph"),  # the probe's
    ((-2, -1, -1), "killed by SIGSEGV before the graph's first step", "graph")])  # no mark file
def test_a_lost_graph_is_blamed_where_its_own_mark_says(mark, says: str, op) -> None:
    from vetgrad.conformance.subject.process import _LostError
    from vetgrad.conformance.subject.session import ChildEngine
    from vetgrad.conformance.subject.spec import engine_spec

    engine = ChildEngine(engine_spec("vetgrad.engine:Value"), 1.0)
    try:
        engine._where_now = lambda: mark  # type: ignore[method-assign]
        run = engine._lost_graph(_graph(), _LostError("the engine was killed by SIGSEGV"), 0).run
    finally:
        engine.close()
    assert run.crash is not None and says in run.crash[1] and run.crash_op == op
    assert 0 <= run.crash[0] < 2
