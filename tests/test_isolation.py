"""The engine under test in its own process (issue 12): hostile engines (tests/engines/hostile/)
get the verdict they deserve, with 1 and 2 workers; signals end a campaign with a partial report
and no process left; output files are checked first and written atomically."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="the harness compares with PyTorch")

from vetgrad.conformance.reporting.output import write_atomically  # noqa: E402
from vetgrad.conformance.run.cli import main  # noqa: E402
from vetgrad.conformance.subject.session import ChildEngine  # noqa: E402
from vetgrad.conformance.subject.spec import engine_spec  # noqa: E402

pytestmark = pytest.mark.torch
ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = "1"

# engine -> (exit status, text in the first finding's message or kind)
HOSTILE = {
    "exits": (1, "the engine exited with status 0 in tanh (node 1, forward)"),
    "os_exit": (1, "the engine exited with status 0 in tanh (node 1, forward)"),
    "segfault": (1, "the engine was killed by SIGSEGV in tanh (node 1, forward)"),
    "hang_python": (1, f"no answer within {TIMEOUT} s in tanh (node 1, forward)"),
    "hang_c": (1, f"no answer within {TIMEOUT} s in tanh (node 1, forward)"),
    "hang_probe": (1, f"no answer within {TIMEOUT} s in the probe of tanh"),
    "keyboard_interrupt": (1, "the engine raised KeyboardInterrupt in tanh (node 1, forward)"),
    "patch_torch": (1, "tanh(1.0) = 0.7692100975153225, torch 0.7615941559557649"),
    "torch_state": (1, "subnormal"),
    "prints": (0, None),
    "stateful": (1, "stateful"),
    # its tanh's numbers differ in every run, its verdict never: the finding keeps its kind
    "nondeterministic": (1, "local-value"),
}


def campaign(name: str, workers: int, tmp_path: Path, capsys: pytest.CaptureFixture[str],
             *extra: str) -> tuple[int, dict, str]:
    path = tmp_path / f"{name}-{workers}.json"
    code = main(["--engine", f"tests.engines.hostile.{name}:Value", "--ops", "tanh,add",
                 "--graphs", "300", "--max-nodes", "6", "--graph-timeout", TIMEOUT,
                 "--device", "cpu", "--workers", str(workers), "--json", str(path),
                 "--level", "torch", *extra])  # any finding fails: the verdict is the process's
    out = capsys.readouterr().out
    return code, json.loads(path.read_text()), out


# With 2 workers each campaign starts two worker processes that import torch (seconds each):
# the engines whose verdict comes from the engine's process dying, hanging or tampering.
TWO_WORKERS = {"exits", "segfault", "hang_c", "hang_probe", "keyboard_interrupt", "torch_state",
               "prints"}


@pytest.mark.parametrize(("name", "workers"), [(n, w) for n in HOSTILE for w in (1, 2)
                                               if w == 1 or n in TWO_WORKERS])
@pytest.mark.slow
def test_a_hostile_engine_gets_its_verdict(name: str, workers: int, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    status, says = HOSTILE[name]
    start = time.perf_counter()
    code, data, out = campaign(name, workers, tmp_path, capsys)
    assert code == status, out
    assert out.strip().splitlines()[-1] == f"{data['passed']} passed, {data['failed']} failed"
    assert "chatter" not in out  # the engine's prints are its own, never the report's
    assert time.perf_counter() - start < 30  # a hang costs a few timeouts, not one per try
    if says is None:
        assert data["failed"] == 0
        return
    first = data["findings"][0]
    if says == "subnormal":  # its own float arithmetic flushes subnormals: only those fail
        assert all("e-3" in f["message"] for f in data["findings"]), data["findings"]
        assert (torch.tensor(5e-324, dtype=torch.float64) * 1).item() == 5e-324
    elif says == "stateful":  # a script running the graph 20 times never reaches 300 tanh calls
        assert {f["kind"] for f in data["findings"]} == {says}
        assert all(f["reproducer"].startswith("no script: ") for f in data["findings"])
    elif name == "nondeterministic":
        assert {f["kind"] for f in data["findings"]} == {says}
        assert all(f["reproducer"].startswith("# vetgrad") for f in data["findings"])
    else:
        assert says in first["message"], first["message"]
    if name not in ("stateful", "nondeterministic"):  # counts of a process's history
        assert data["graphs"] == (1 if name == "hang_probe" else 305)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_DATA caps mmap on Linux")
@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.slow
def test_a_runaway_allocation_stops_at_the_memory_cap(workers: int, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    code, data, _ = campaign("memory_bomb", workers, tmp_path, capsys, "--memory-limit", "1",
                             "--graph-timeout", "20")  # (filling 1 GiB takes a while)
    assert code == 1 and data["graphs"] == 305
    # tanh at its edge value -20 (robust: tanh is flat there); what the leak does to later graphs
    # (the deep chain of add, at math) is reported as stateful
    bomb = next(f for f in data["findings"] if f["op"] == "tanh")
    assert bomb["kind"] == "crash", bomb
    assert ("MemoryError (the engine's process may hold 1 GiB of data: --memory-limit)"
            in bomb["message"]), bomb["message"]


@pytest.mark.parametrize(("given", "ok"), [("0", True), ("0.5", True), ("16", True),
                                           ("0.4", False), ("-1", False), ("inf", False),
                                           ("lots", False)])
def test_memory_limit_values(given: str, ok: bool, capsys: pytest.CaptureFixture[str]) -> None:
    from vetgrad.conformance.run.cli import parser

    if ok:
        assert parser().parse_args(["--memory-limit", given]).memory_limit == float(given)
        return
    with pytest.raises(SystemExit) as exit_:
        parser().parse_args(["--memory-limit", given])
    assert exit_.value.code == 2 and "--memory-limit" in capsys.readouterr().err


def test_the_default_memory_cap_is_half_the_machine_at_most_8_gib() -> None:
    from vetgrad.conformance.subject.process import default_memory_limit

    physical = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    assert default_memory_limit() == min(8 << 30, physical // 2)


@pytest.mark.slow
def test_counts_do_not_depend_on_workers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runs = []
    for workers in (1, 2):
        code, data, _ = campaign("segfault", workers, tmp_path, capsys, "--no-shrink")
        for key in ("elapsed_seconds", "options", "command_line"):  # --workers itself differs
            data.pop(key)
        runs.append((code, data))
    assert runs[0] == runs[1]


def test_the_engine_process_imports_neither_torch_nor_the_judge() -> None:
    engine = ChildEngine(engine_spec("vetgrad.engine:Value"), 5.0)
    try:
        engine.start()
        modules = engine.modules()
    finally:
        engine.close()
    assert "vetgrad.engine" in modules and "vetgrad.conformance.subject.execute" in modules
    assert not [m for m in modules if m.split(".")[0] in ("torch", "numpy", "mpmath")]
    layers = tuple(f"vetgrad.conformance.{layer}" for layer in ("judging", "reference", "reporting", "run"))
    assert not [m for m in modules if m.startswith(layers)]  # tests/test_layers.py: the engine side


def _processes_with(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "environ").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs /proc")
@pytest.mark.parametrize(("workers", "sig", "status"), [(1, signal.SIGTERM, 143), (2, signal.SIGTERM, 143),
                                                        (1, signal.SIGINT, 130)])
@pytest.mark.slow
def test_a_signal_gives_a_partial_report_and_leaves_no_process(workers: int, sig: int, status: int,
                                                               tmp_path: Path) -> None:
    for wait in (5 + 9 * (workers - 1), 25 + 9 * (workers - 1)):  # past start-up (torch imports)
        marker = f"VETGRAD_TEST_{uuid.uuid4().hex}"
        path = tmp_path / "r.json"
        path.write_text('{"previous": true}')
        env = dict(os.environ, PYTHONPATH=str(ROOT), **{marker: "1"})
        proc = subprocess.Popen(
            [sys.executable, "-m", "vetgrad.conformance", "--graphs", "1000000", "--device", "cpu",
             "--workers", str(workers), "--json", str(path)], cwd=ROOT, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(wait)
        assert proc.poll() is None
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == status, err
        time.sleep(0.5)
        assert _processes_with(marker) == []
        assert [p.name for p in tmp_path.iterdir()] == ["r.json"]  # no temporary file left
        data = json.loads(path.read_text())
        if data == {"previous": True}:  # a loaded machine: stopped before the first graph
            assert "interrupted before any graph was checked" in err
            continue
        assert data["interrupted"] is True and data["graphs"] > 0
        assert data["graphs"] == data["passed"] + data["failed"]
        assert f"interrupted by {signal.Signals(sig).name}" in out
        return
    pytest.fail("the campaign had not checked a graph after the longest wait")


def test_an_output_file_is_replaced_whole_or_not_at_all(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "r.json"
    path.write_text("old")

    def broken_fsync(fd: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(KeyboardInterrupt):
        write_atomically(str(path), "new" * 1000)
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["r.json"]
    monkeypatch.undo()
    write_atomically(str(path), "new")
    assert path.read_text() == "new"


@pytest.mark.parametrize("where", ["/nonexistent-dir/r.json", "/"])
def test_an_unwritable_json_path_is_a_usage_error_before_the_run(where: str, capsys) -> None:
    start = time.perf_counter()
    assert main(["--json", where, "--graphs", "100000", "--device", "cpu"]) == 2
    assert time.perf_counter() - start < 2
    assert "--json" in capsys.readouterr().err


def test_json_to_stdout_and_the_report_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--json", "-", "--graphs", "20", "--max-nodes", "6", "--device", "cpu",
                 "--no-edge-sweep"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["passed"] == 20
    assert captured.err.strip().splitlines()[-1] == "20 passed, 0 failed"


@pytest.mark.parametrize("max_hangs", ["3", "1"])
@pytest.mark.slow
def test_an_engine_that_hangs_on_most_graphs_costs_a_few_timeouts(
        max_hangs: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    start = time.perf_counter()
    code, data, out = campaign("hang_often", 1, tmp_path, capsys, "--max-hangs", max_hangs)
    assert code == 1
    assert data["stopped"].startswith(f"stopped after {max_hangs} graphs hung (no answer within 1 s)")
    assert data["stopped"] in out and data["graphs"] < 305
    assert "no answer within 1 s in tanh" in data["findings"][0]["message"]
    # the graphs that hung, then the confirmation's own budget: not a timeout per graph
    assert time.perf_counter() - start < 30
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((ROOT / "conformance" / "report.schema.json").read_text())
    jsonschema.validate(data, schema)


@pytest.mark.slow
def test_max_hangs_0_checks_every_graph(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, data, _ = campaign("hang_python", 1, tmp_path, capsys, "--max-hangs", "0")
    assert code == 1 and "stopped" not in data and data["graphs"] == 305


@pytest.mark.parametrize("bad", ["-1", "x", "1.5"])
def test_max_hangs_must_be_a_count(bad: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--max-hangs", bad])
    assert exit_.value.code == 2 and "--max-hangs" in capsys.readouterr().err
