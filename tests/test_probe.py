"""The probe tries every spelling an op has (``abs(x)`` and ``x.abs()``), tells a refusal for the
operand types from a crash on values, keeps each decision with its reason; an adapter whose own
code fails is a usage error, not a finding about the engine."""

from __future__ import annotations

import types

import mutant_engines as M  # noqa: N812 - tests/engines/mutants.py, registered by conftest.py
import pytest
from vetgrad.conformance.subject.adapters import Adapter, EngineLoadError, load_adapter
from vetgrad.conformance.subject.probe import decide, probe
from vetgrad.engine.ops import OPS

ABS = "    def __abs__(self):\n"
REFUSE = '        raise RuntimeError("abs is not supported by this engine")\n'


def _variant(name: str, old: str, new: str) -> type:
    """The textbook engine with one edit, registered as a module the engine's process can load."""
    return M.variant(f"_vetgrad_probe_{name}", (old, new))


def _method_only() -> type:
    return _variant("method_abs", ABS, "    def abs(self):\n")


def _abs_decisions(adapter: Adapter) -> dict[str, tuple[str, str]]:
    probe(adapter)
    return {d.spelling: (d.decision, d.why) for d in adapter.probe_log if d.op == "abs"}


def test_method_only_abs_is_probed_and_applied_as_a_method() -> None:
    adapter = load_adapter(_method_only())
    forms = adapter.forms()
    assert forms["abs"] == ("n",)
    seen = _abs_decisions(adapter)
    assert seen["operator"] == ("unsupported", "no __abs__")
    assert seen["method"] == ("supported", "ok")
    out = adapter.apply(OPS["abs"], [adapter.leaf(-2.0)], ())
    assert adapter.value(out) == 2.0


def test_operator_only_abs_is_supported() -> None:
    adapter = load_adapter(M.load_textbook())
    assert adapter.forms()["abs"] == ("n",)
    seen = _abs_decisions(adapter)
    assert seen["operator"][0] == "supported" and seen["method"] == ("unsupported", "no abs")


def test_a_process_that_did_not_probe_chooses_the_spelling_the_class_has() -> None:
    adapter = load_adapter(_method_only())  # no forms(): as a worker given the probe's answer
    assert adapter.value(adapter.apply(OPS["abs"], [adapter.leaf(-3.0)], ())) == 3.0


def test_refused_operator_falls_back_to_the_method() -> None:
    cls = _variant("refuse_op_keep_method", ABS, ABS + REFUSE + "\n    def abs(self):\n")
    adapter = load_adapter(cls)
    assert adapter.forms()["abs"] == ("n",)
    seen = _abs_decisions(adapter)
    assert seen["operator"][0] == "unsupported" and "not supported" in seen["operator"][1]
    fresh = load_adapter(cls)  # without the probe: it tries both and keeps the one that works
    assert fresh.value(fresh.apply(OPS["abs"], [fresh.leaf(-3.0)], ())) == 3.0


@pytest.mark.slow
def test_runtime_error_not_supported_is_unsupported_not_a_crash() -> None:
    from vetgrad.conformance.run.campaign import run_campaign

    cls = _variant("refuse_abs", ABS, ABS + REFUSE)
    report = run_campaign(cls, graphs=30, seed=3, max_nodes=8, shrink=False, isolate=False)
    assert "abs" in report.unsupported and "abs" not in report.ops
    assert not [f for f in report.findings if f.op == "abs"]


class _LibAdapter(Adapter):
    """An adapter over vetgrad's Value that looks ops up by name in a library lacking most."""

    name = "lib"

    def leaf(self, x: float) -> object:
        from vetgrad.engine import Value

        return Value(x)

    def apply(self, op, args, params):  # type: ignore[no-untyped-def]
        lib = types.SimpleNamespace(add=lambda a, b: a + b)
        return getattr(lib, op.name)(*args, *params)  # AttributeError for every other op

    def value(self, node) -> float:  # type: ignore[no-untyped-def]
        return float(node.data)

    def grad(self, node) -> float:  # type: ignore[no-untyped-def]
        return float(node.grad)

    def backward(self, root) -> None:  # type: ignore[no-untyped-def]
        root.backward()


def test_an_adapter_that_lets_attribute_error_escape_does_not_look_supported() -> None:
    forms = _LibAdapter().forms()
    assert forms == {"add": ("nn", "nc", "cn")}
    ok, why = decide(_LibAdapter(), OPS["atan2"], "nn")
    assert not ok and "no entry point" in why


class _Broken(Adapter):
    name = "broken"

    def leaf(self, x: float) -> object:
        return mylib.Scalar(x)  # type: ignore[name-defined]  # noqa: F821 - the README's mistake


def _engine_leaf(x: float) -> object:
    raise ValueError("the engine's own bug")


class _EngineCrashes(Adapter):
    name = "crashes"

    def leaf(self, x: float) -> object:
        return _engine_leaf(x)  # raises inside the "engine", not in this frame


class _NoValue(Adapter):
    name = "novalue"

    def leaf(self, x: float) -> object:
        return x


def test_an_adapter_failing_in_its_own_code_is_a_usage_error_naming_it() -> None:
    with pytest.raises(EngineLoadError, match=r"adapter .*_Broken failed in its own code: "
                                              r"leaf\(0.7\) raised NameError"):
        load_adapter(_Broken)
    with pytest.raises(EngineLoadError, match=r"value\(leaf\(0.7\)\) raised NotImplementedError"):
        load_adapter(_NoValue)
    load_adapter(_EngineCrashes)  # the engine's failure: left for the probe and the campaign


def test_show_probe_lists_each_spelling(capsys: pytest.CaptureFixture[str]) -> None:
    from vetgrad.conformance.run.cli import main

    assert main(["--engine", M.spec(None), "--show-probe"]) == 0
    out = capsys.readouterr().out
    assert "abs(x)" in out and "x.abs()" in out and "no abs" in out


def test_method_only_abs_is_tested_in_the_engines_process_and_passes() -> None:
    from vetgrad.conformance.run.campaign import run_campaign

    report = run_campaign(_method_only(), graphs=40, seed=5, max_nodes=8, shrink=False,
                          ops=["abs", "add", "mul", "tanh"])
    assert "abs" in report.ops and "abs" not in report.unsupported
    assert report.per_op["abs"].cases > 0 and report.failed == 0, \
        [f.message for f in report.findings[:3]]


@pytest.mark.parametrize("data, said", [("0.5", "is not a real number: '0.5' (str)"),
                                        (0.5 + 1j, "returned a complex value as its value")])
@pytest.mark.slow
def test_a_data_that_is_not_a_real_number_is_reported_as_such(data: object, said: str) -> None:
    from vetgrad.conformance.run.campaign import run_campaign

    old = "        return self._unary(math.tanh(self.data), \"tanh\""
    cls = _variant(f"data_{type(data).__name__}", old,
                   f"        out = Value(0.0, (self,), 'tanh')\n        out.data = {data!r}\n"
                   f"        return out\n{old}")
    report = run_campaign(cls, graphs=10, seed=1, max_nodes=6, shrink=False, ops=["tanh", "add"])
    tanh = [f for f in report.findings if f.op == "tanh"]
    assert tanh and said in tanh[0].message, [f.message for f in report.findings[:3]]
