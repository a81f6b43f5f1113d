"""check_mlp and check_training (issue 24): learner-style networks and loops written as the micrograd
lecture writes them (tests/engines/learners/mlp_lecture.py and its variants), vetgrad's own nn
and micrograd's, against torch: correct ones pass, each bug is the first finding, named."""

from __future__ import annotations

import pytest

pytest.importorskip("torch", reason="the MLP check compares against PyTorch")

from vetgrad.conformance import Report, check_mlp, check_training
from vetgrad.conformance.mlp.learner import UsageError

import tests.engines.learners.mlp_variants as V  # noqa: N812

pytestmark = pytest.mark.torch


def _first(report: Report) -> str:
    return report.findings[0].message if report.findings else ""


# model -> the words of its first finding under check_mlp ("" passes); shapes: a short list
MODELS = [
    ("vetgrad.nn:MLP", ""),
    ("micrograd.nn:MLP", ""),
    ("lecture", ""),
    ("linear_last", ""),
    ("no_bias_params", "parameters() holds 32 of the model's 41 numbers: the biases are missing"),
    ("bias_dropped", "layer 0, neuron 0: the output is tanh(w·x) without the bias"),
    ("list_output", "returns a list of one Value"),
]


@pytest.mark.parametrize(("model", "words"), MODELS, ids=[m for m, _ in MODELS])
def test_check_mlp(model: str, words: str) -> None:
    target = model if ":" in model else V.load(model).MLP
    report = check_mlp(target, shapes=[(3, [4, 4, 1]), (2, [3, 1])])
    assert isinstance(report, Report) and report.graphs == 2
    if not words:
        assert report.failed == 0, _first(report)
        assert all(d.layout and d.gradients is not None and d.gradients <= 5e-7 for d in report.detected)
        return
    assert report.failed >= 1
    assert words in _first(report)
    assert report.findings[0].level == "math" and report.findings[0].reproducer


def test_what_is_detected_is_said() -> None:
    lecture = check_mlp(V.load("lecture").MLP, shapes=[(3, [4, 4, 1])])
    assert lecture.detected[0].layout == "3 layers, tanh, tanh, tanh; parameters per neuron: weights then bias"
    linear = check_mlp(V.load("linear_last").MLP, shapes=[(3, [4, 4, 1])])
    assert linear.detected[0].layout.startswith("3 layers, tanh, tanh, linear;")
    micrograd = check_mlp("micrograd.nn:MLP", shapes=[(4, [5, 3, 2])])
    assert micrograd.detected[0].layout.startswith("3 layers, relu, relu, linear;")


# step -> the words of check_training's first finding ("" passes)
STEPS = [
    ("lecture", ""),
    ("linear_last", ""),
    ("own_step", ""),
    ("no_reset", "gradients never reset: after step 2 the update is the sum of steps 1 and 2's "
                 "gradients: reset p.grad to 0 before backward()"),
    ("uphill", "parameters moved with the gradient: the loss rises; the update needs -lr"),
    ("lr_decay", "the learning rate changes: 0.05 in step 1, 0.025 in step 2"),
    ("frozen_last", "5 of 41 parameters are never updated in step 1 (layer 2, neuron 0's 4 weights and bias)"),
    ("no_bias_params", "the biases are missing"),
    ("bias_dropped", "without the bias"),
    ("list_output", "returns a list of one Value"),
]


@pytest.mark.parametrize(("variant", "words"), STEPS, ids=[s for s, _ in STEPS])
def test_check_training(variant: str, words: str) -> None:
    module = V.load(variant)
    report = check_training(module.MLP, module.step, steps=3)
    if not words:
        assert report.failed == 0, _first(report)
        assert report.training and len(report.training["losses"]) == 3
        assert abs(report.training["lr"] - 0.05) < 1e-9
        assert report.training["losses"] == pytest.approx(report.training["torch_losses"], rel=1e-9)
        return
    assert report.failed == 1 and words in _first(report)


def test_the_model_s_own_zero_grad_and_step() -> None:
    """No step given: the lecture's loop with the model's own zero_grad() and step(lr)."""
    report = check_training(V.load("own_step").MLP, steps=2, lr=0.1)
    assert report.failed == 0 and abs(report.training["lr"] - 0.1) < 1e-9
    with pytest.raises(UsageError, match="zero_grad"):
        check_training(V.load("lecture").MLP, steps=1)


def test_vetgrad_nn_trains_as_torch() -> None:
    from vetgrad.nn import SGD

    def step(model, xs, ys):
        opt = SGD(model.parameters(), lr=0.1)
        loss = sum((model(x) - y) ** 2 for x, y in zip(xs, ys))
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    report = check_training("vetgrad.nn:MLP", step, steps=3)
    assert report.failed == 0, _first(report)


class Raises:
    def __init__(self, nin, nouts):
        raise RuntimeError("not yet")


class Hangs:
    def __init__(self, nin, nouts):
        while True:
            pass


def test_a_model_that_raises_or_hangs_is_a_finding(monkeypatch: pytest.MonkeyPatch) -> None:
    report = check_mlp(Raises, shapes=[(2, [3, 1])])
    assert report.failed == 1 and "raises RuntimeError: not yet" in _first(report)
    monkeypatch.setattr("vetgrad.conformance.mlp.learner.DEADLINE", 0.2)
    report = check_mlp(Hangs, shapes=[(2, [3, 1])])
    assert report.failed == 1 and "no answer within 0.2 s" in _first(report)


def test_a_spec_that_cannot_be_loaded_is_a_usage_error(tmp_path) -> None:
    with pytest.raises(UsageError, match="no such file"):
        check_mlp(str(tmp_path / "nothing.py") + ":MLP")
    with pytest.raises(UsageError, match="has no attribute"):
        check_mlp("tests.engines.learners.mlp_lecture:Nope")


# -- the command line, JSON, reproducers, the plot ------------------------------------------------

def _cli(tmp_path, variant: str, *extra: str) -> tuple[int, str, dict]:
    import json
    import os

    from vetgrad.conformance.run.cli import main

    path = V.write(variant, tmp_path / variant)
    report = tmp_path / f"{variant}.json"
    cwd = os.getcwd()
    os.chdir(path.parent)
    try:
        code = main(["mlp", "--model", "mlp.py:MLP", "--step", "mlp.py:step", "--steps", "3",
                     "--shape", "3:4,4,1", "--json", str(report), "--show", "1", *extra])
    finally:
        os.chdir(cwd)
    return code, str(path), json.loads(report.read_text()) if report.exists() else {}


@pytest.mark.parametrize(("variant", "code"), [("lecture", 0), ("no_reset", 1), ("bias_dropped", 1)])
def test_cli_exit_status_and_json(tmp_path, capsys, variant: str, code: int) -> None:
    import json
    from importlib import resources

    jsonschema = pytest.importorskip("jsonschema")
    got, _, data = _cli(tmp_path, variant, "--plot", str(tmp_path / "loss.png"))
    out = capsys.readouterr().out
    assert got == code, out
    schema = json.loads(resources.files("vetgrad.conformance").joinpath("report.schema.json").read_text())
    jsonschema.validate(data, schema)
    assert data["failed"] == code and data["mlp"]["models"][0]["shape"] == "MLP(3, [4, 4, 1])"
    assert out.rstrip().endswith(f"{data['passed']} passed, {data['failed']} failed")
    if variant != "bias_dropped":
        assert (tmp_path / "loss.png").stat().st_size > 1000
        assert len(data["mlp"]["training"]["torch_losses"]) == 3
    if code:
        assert V.CATALOG[variant][1] in data["findings"][0]["message"]


def test_cli_usage_errors(tmp_path, capsys) -> None:
    from vetgrad.conformance.run.cli import main

    assert main(["mlp", "--model", str(tmp_path / "none.py") + ":MLP"]) == 2
    assert main(["mlp"]) == 2
    assert main(["mlp", "--model", "tests.engines.learners.mlp_lecture:MLP", "--plot",
                 str(tmp_path / "p.png")]) == 2  # a plot needs a training run
    assert "--plot draws a training run" in capsys.readouterr().err


@pytest.mark.slow  # a python process importing torch (and torch.optim's SGD): 5-10 s each
@pytest.mark.parametrize("variant", ["bias_dropped", "no_reset"])
def test_the_reproducer_runs_and_exits_1(tmp_path, variant: str) -> None:
    import subprocess
    import sys

    path = V.write(variant, tmp_path / variant)
    report = check_training(f"{path}:MLP", f"{path}:step", steps=2)
    script = tmp_path / "reproducer.py"
    script.write_text(report.findings[0].reproducer)
    run = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "<-- differs" in run.stdout


pytest_plugins = ["pytester"]


@pytest.mark.parametrize(("variant", "outcome"), [("lecture", {"passed": 6}),
                                                  ("no_reset", {"passed": 5, "failed": 1})])
def test_the_pytest_plugin_s_items(pytester: pytest.Pytester, pytestconfig: pytest.Config,
                                   variant: str, outcome: dict) -> None:
    path = V.write(variant, pytester.path / variant)
    plugin = [] if pytestconfig.pluginmanager.has_plugin("vetgrad") else ["-p", "vetgrad.conformance.pytest_plugin"]
    result = pytester.runpytest(*plugin, "-p", "no:cacheprovider", "--vetgrad-mlp", f"{path}:MLP",
                                "--vetgrad-mlp-step", f"{path}:step", "-q")
    result.assert_outcomes(**outcome)
    if variant == "no_reset":
        result.stdout.fnmatch_lines(["*training: gradients never reset: after step 2*",
                                     "FAILED vetgrad-mlp*::training*"])
    bad = pytester.runpytest(*plugin, "--vetgrad-mlp", "nowhere.py:MLP")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR


def test_grade_finds_a_model_in_a_student_s_folder(tmp_path) -> None:
    from vetgrad.conformance.mlp.grade_column import model_in
    from vetgrad.conformance.run import grade

    V.write("lecture", tmp_path / "alice")
    (tmp_path / "bob").mkdir()
    (tmp_path / "bob" / "nn.py").write_text("class MLP:\n    pass\n")
    (tmp_path / "carol").mkdir()
    assert model_in(str(tmp_path / "alice")) == ("./mlp.py:MLP", "./mlp.py:step")
    assert model_in(str(tmp_path / "bob")) == ("./nn.py:MLP", None)
    assert model_in(str(tmp_path / "carol")) is None
    rows = [grade.Row("alice", "a", "a", "checked", mlp="fail", mlp_finding="mlp x training: no reset"),
            grade.Row("carol", "c", "c", "checked")]
    table = grade.markdown(rows).splitlines()
    assert table[0] == "| engine | math | robust | torch | mlp | first finding | ops | graphs | seconds |"
    assert "| fail | mlp x training: no reset |" in table[2] and "| — |" in table[3]
    assert "mlp" not in grade.markdown(rows[1:])


@pytest.mark.slow  # two students: a campaign and an MLP check each, in processes of their own
def test_grade_gains_an_mlp_column(tmp_path, capsys) -> None:
    import json
    import shutil

    from vetgrad.conformance.run.cli import main

    for name in ("lecture", "no_reset"):
        folder = tmp_path / "class" / name
        V.write(name, folder)
        shutil.copy(folder / "lecture.py", folder / "engine.py")
    out = tmp_path / "grades.json"
    code = main(["grade", str(tmp_path / "class"), "--graphs", "20", "--json", str(out)])
    rows = {r["name"]: r for r in json.loads(out.read_text())["engines"]}
    assert rows["lecture"]["mlp"] == "pass" and rows["no_reset"]["mlp"] == "fail"
    assert "gradients never reset" in rows["no_reset"]["mlp_finding"]
    assert code == 1 and "| mlp |" in capsys.readouterr().out
