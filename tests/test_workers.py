"""Worker processes (``--workers N``): forked from a fork server that imported torch once, they
still run in this process's folder, import path and environment as they are when the workers
start, not as they were when the server started."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("torch", reason="the harness compares with PyTorch")

from vetgrad.conformance.run import workers
from vetgrad.conformance.run.config import Campaign

pytestmark = pytest.mark.torch
ROOT = Path(__file__).resolve().parent.parent

# An engine that exists only in a folder made after the fork server started, and that refuses to
# load unless the environment and the folder are this test's.
LATE_ENGINE = """\
import os
assert os.environ.get("VETGRAD_TEST_LATE") == "yes", "the worker's environment is stale"
assert os.getcwd() == {folder!r}, "the worker runs in a stale folder"
from vetgrad.engine import Value
"""


def _job(w: int) -> Campaign:
    return Campaign(engine="late_engine:Value", graphs=40, seed=3, max_nodes=6, ops=["add", "tanh"],
                device="cpu", blocks=(w, 2), batch=20, shrink=False, edges=False)


@pytest.mark.slow
def test_workers_see_the_folder_path_and_environment_of_their_start(tmp_path: Path,
                                                                     monkeypatch) -> None:
    workers.prestart()  # the server starts here, before the folder, the path and the variable
    (tmp_path / "late_engine.py").write_text(LATE_ENGINE.format(folder=str(tmp_path)))
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("VETGRAD_TEST_LATE", "yes")
    reports = workers.run_workers([_job(0), _job(1)])
    assert sorted(r.graphs for r in reports) == [20, 20]
    assert all(r.failed == 0 and r.passed == 20 for r in reports)


def test_a_fork_server_where_the_platform_has_one() -> None:
    method = workers._context().get_start_method()
    assert method == ("forkserver" if "forkserver" in multiprocessing.get_all_start_methods()
                      else "spawn")


@pytest.mark.skipif("forkserver" not in multiprocessing.get_all_start_methods(),
                    reason="no fork server on this platform")
def test_prestart_leaves_the_server_running_with_torch_imported() -> None:
    from multiprocessing import forkserver

    workers.prestart()
    pid = forkserver._forkserver._forkserver_pid  # (CPython's own record of its server)
    assert pid and os.waitpid(pid, os.WNOHANG) == (0, 0)
    maps = Path(f"/proc/{pid}/maps")
    if not maps.exists():
        pytest.skip("needs /proc to see what the server loaded")
    deadline = time.monotonic() + 60  # (it imports torch in the background)
    while "libtorch" not in maps.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "libtorch" in maps.read_text()


@pytest.mark.slow
def test_loading_torch_freezes_its_objects_out_of_the_collector() -> None:
    code = ("import gc; from vetgrad.conformance.reference.torch_run import load_torch; before = gc.get_freeze_count(); "
            "load_torch(); print(before, gc.get_freeze_count())")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          check=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    before, after = map(int, done.stdout.split())
    assert before == 0 and after > 50_000  # torch's objects (~170k), walked by no collection


FALLBACK = """\
from vetgrad.conformance.run import workers
from vetgrad.conformance.run.config import Campaign
workers.PRELOAD = ["dies_on_import"]  # the fork server dies in its preload
jobs = [Campaign(engine="vetgrad.engine:Value", graphs=40, seed=3, max_nodes=6, ops=["add", "tanh"],
             device="cpu", blocks=(w, 2), batch=20, shrink=False, edges=False) for w in (0, 1)]
if __name__ == "__main__":
    print(sorted(r.passed for r in workers.run_workers(jobs)))
"""


@pytest.mark.skipif("forkserver" not in multiprocessing.get_all_start_methods(),
                    reason="no fork server on this platform")
@pytest.mark.slow
def test_workers_start_afresh_when_the_fork_server_dies(tmp_path: Path) -> None:
    (tmp_path / "dies_on_import.py").write_text("raise SystemExit(3)\n")
    (tmp_path / "run.py").write_text(FALLBACK)
    done = subprocess.run([sys.executable, "run.py"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=300, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[20, 20]"
