"""benchmarks.callgrind_harness: reading callgrind's files and refusing bad sizes (the
measurement itself needs valgrind and minutes: it is a benchmark, not a test)."""

from __future__ import annotations

from pathlib import Path

import pytest
from vetgrad.benchmarks import callgrind_harness as cg


def _write(folder: Path, name: str, command: str, total: int) -> None:
    (folder / name).write_text(f"version: 1\ncmd:  {command}\nevents: Ir\nsummary: {total}\n")


def test_counts_tell_the_harness_from_the_processes_it_forked(tmp_path: Path) -> None:
    _write(tmp_path, "cg.1", "/venv/bin/python -m vetgrad.conformance --graphs 50", 900)
    _write(tmp_path, "cg.2", "/venv/bin/python -c import runpy; runpy.run_module('vetgrad.conformance.subject.server')", 30)
    _write(tmp_path, "cg.3", "/venv/bin/python -c import runpy; runpy.run_module('vetgrad.conformance.subject.server')", 70)
    (tmp_path / "cg.4").write_text("a file cut short by a kill\n")
    assert cg.counts(str(tmp_path)) == (900, [70, 30])


@pytest.mark.parametrize("graphs", ["550", "550,50", "0,10", "a,b"])
def test_sizes_must_be_two_rising_positive_numbers(graphs: str, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exc:
        cg.main(["--graphs", graphs])
    assert exc.value.code == 2 and "--graphs" in capsys.readouterr().err


def test_a_tree_without_the_harness_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit):
        cg.main(["--tree", str(tmp_path)])
    assert "holds no conformance/ and package/ folders" in capsys.readouterr().err


def test_a_checkout_is_imported_as_the_wheel_maps_it(tmp_path: Path) -> None:
    """callgrind measures --tree's own vetgrad, never the installed one."""
    import subprocess
    import sys

    from vetgrad.benchmarks.callgrind_dag import import_root

    checkout = Path(__file__).resolve().parent.parent  # (this test's, the package may be installed)
    root = import_root(checkout, tmp_path)
    code = "import vetgrad.engine, vetgrad.conformance; print(vetgrad.engine.__file__, vetgrad.__file__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"}, cwd=tmp_path).stdout
    engine, top = out.split()
    assert engine.startswith(str(tmp_path / "vetgrad" / "engine")) and top.startswith(str(tmp_path / "vetgrad"))
    assert Path(engine).resolve() == checkout / "engine" / "__init__.py"
