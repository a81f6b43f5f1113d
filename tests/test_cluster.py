"""``--cluster``: campaign shards on a Dask cluster add up to the single-process run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("torch", reason="the harness compares against PyTorch")
pytest.importorskip("distributed", reason="--cluster needs the cluster extra (dask.distributed)")

import mutant_engines as M  # noqa: N812 - tests/engines/mutants.py, registered by conftest.py
from vetgrad.conformance.run.cli import main

pytestmark = pytest.mark.torch
COMMON = ["--device", "cpu", "--ops", "tanh,mul,add,relu,div", "--max-nodes", "10", "--show", "0",
          "--graphs", "40", "--no-shrink"]


def _run(tmp_path: Path, name: str, *args: str) -> tuple[int, dict]:
    path = tmp_path / f"{name}.json"
    status = main([*COMMON, *args, "--json", str(path)])
    return status, json.loads(path.read_text())


@pytest.mark.slow
def test_a_local_cluster_gives_the_single_process_report(tmp_path: Path) -> None:
    engine = M.spec("tanh_grad_1_minus_t")  # travels to the workers as source; deterministic
    single_status, single = _run(tmp_path, "single", "--engine", engine, "--level", "torch")
    status, cluster = _run(tmp_path, "cluster", "--engine", engine, "--level", "torch",
                           "--cluster", "local:2")
    assert status == single_status == 1
    for key in ("graphs", "passed", "failed", "levels", "per_op", "failing_graphs_by_first_finding"):
        assert cluster[key] == single[key], key


@pytest.mark.parametrize(("address", "says"), [("local:0", "number of workers >= 1"),
                                              ("local:two", "number of workers >= 1")])
def test_a_bad_cluster_address_is_a_usage_error(address: str, says: str,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*COMMON, "--cluster", address]) == 2
    assert says in capsys.readouterr().err


def test_without_dask_one_line_says_what_to_install(monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    import builtins

    real = builtins.__import__

    def no_dask(name: str, *args, **kwargs):
        if name == "distributed":
            raise ImportError("No module named 'distributed'")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_dask)
    assert main([*COMMON, "--cluster", "local:2"]) == 2
    assert "pip install 'vetgrad[cluster]' (in a clone of vetgrad: pip install -e '.[cluster]')" \
        in capsys.readouterr().err
