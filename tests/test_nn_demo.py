"""The two-moons demo (``python -m vetgrad.nn.demo``) and its dataset."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from vetgrad.nn import demo
from vetgrad.nn.datasets import make_moons
from vetgrad.nn.demo import main


def accuracy_from(stdout: str) -> float:
    match = re.search(r"final accuracy: ([\d.]+)% \((\d+)/(\d+) points\)", stdout)
    assert match, stdout
    return float(match.group(1)) / 100


def test_help_explains_the_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for option in ("--samples", "--steps", "--hidden", "--optimizer", "--seed", "--output-dir",
                   "--no-plots", "nn-demo-output"):
        assert option in out


@pytest.mark.parametrize("argv", [
    ["--steps", "0"],
    ["--optimizer", "rmsprop"],
    ["--noise", "-1"],
    ["--samples", "1"],
    ["--alpha", "-0.5"],
    ["--hidden"],
    ["--lr", "abc"],
])
def test_bad_arguments_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert "error" in capsys.readouterr().err


@pytest.mark.slow
def test_default_demo_separates_the_moons(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--no-plots"]) == 0
    out, err = capsys.readouterr()
    assert accuracy_from(out) == 1.0  # the documented result for the defaults
    assert err.count("step ") == 10 and "loss" in err  # progress goes to stderr
    assert "step " not in out


@pytest.mark.parametrize("argv", [
    ["--optimizer", "sgd", "--lr", "0.1"],
    ["--loss", "bce", "--alpha", "0"],
    ["--hidden", "8", "--batch-size", "500"],  # a batch larger than the data: full batch
])
@pytest.mark.slow
def test_options_train_a_working_classifier(argv: list[str],
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--samples", "40", "--steps", "40", "--no-plots", "--quiet", *argv]) == 0
    out, err = capsys.readouterr()
    assert accuracy_from(out) >= 0.8  # chance is 0.5
    assert err == ""  # --quiet


def test_without_matplotlib_no_pictures(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    out_dir = tmp_path / "out"
    assert main(["--samples", "20", "--steps", "2", "--hidden", "4", "--quiet",
                 "--output-dir", str(out_dir)]) == 0
    assert "matplotlib is not installed" in capsys.readouterr().out
    assert not out_dir.exists()


def test_with_matplotlib_saves_pictures(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("matplotlib")
    out_dir = tmp_path / "pictures"
    assert main(["--samples", "20", "--steps", "3", "--hidden", "4", "--quiet",
                 "--output-dir", str(out_dir)]) == 0
    out = capsys.readouterr().out
    for name in ("loss.png", "decision_boundary.png"):
        assert (out_dir / name).read_bytes()[:4] == b"\x89PNG"
        assert str(out_dir / name) in out  # the demo says where it saved them
    assert sorted(p.name for p in out_dir.iterdir()) == ["decision_boundary.png", "loss.png"]


def test_make_moons_is_seeded_and_balanced() -> None:
    xs, ys = make_moons(101, noise=0.1, seed=3)
    assert (xs, ys) == make_moons(101, noise=0.1, seed=3)
    assert make_moons(101, noise=0.1, seed=4)[0] != xs
    assert len(xs) == len(ys) == 101 and all(len(x) == 2 for x in xs)
    assert sorted(set(ys)) == [0, 1] and ys.count(0) == 50
    clean, labels = make_moons(10, noise=0.0, seed=0)
    for (x, y), label in zip(clean, labels):  # noiseless points lie on their unit circles
        cx, cy = (0.0, 0.0) if label == 0 else (1.0, 0.5)
        assert (x - cx) ** 2 + (y - cy) ** 2 == pytest.approx(1.0, rel=1e-12)


@pytest.mark.parametrize("args, match", [
    ((1,), "n_samples must be an int >= 2"),
    ((10, -0.1), "noise must be a number >= 0"),
])
def test_make_moons_bad_arguments(args: tuple, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make_moons(*args)


@pytest.mark.parametrize(("values", "window", "want"), [
    ([4.0, 2.0, 0.0, 2.0], 2, [4.0, 3.0, 1.0, 1.0]),
    ([1.0, 3.0], 5, [1.0, 2.0]),
    ([5.0], 1, [5.0]),
])
def test_loss_curve_smoothing_is_a_trailing_average(values: list, window: int, want: list) -> None:
    assert demo.smoothed(values, window) == want
