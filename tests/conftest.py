"""Shared test set-up: hypothesis profiles (HYPOTHESIS_PROFILE=dev|ci|thorough) and devices."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

import pytest

try:
    from hypothesis import HealthCheck, settings
except ImportError:  # the engine's own tests run without hypothesis
    settings = None

if settings is not None:
    _common = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow])
    settings.register_profile("dev", max_examples=30, **_common)
    settings.register_profile("ci", max_examples=120, derandomize=True, print_blob=True, **_common)
    settings.register_profile("thorough", max_examples=3000, **_common)
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


def _devices() -> list:
    params = [pytest.param("cpu", id="cpu")]
    params.append(pytest.param("cuda", id="cuda", marks=pytest.mark.cuda))
    return params


@pytest.fixture(scope="session", params=_devices())
def device(request: pytest.FixtureRequest) -> str:
    """``cpu`` always; ``cuda`` when a GPU is present. Without one the cuda case is skipped, or
    fails when REQUIRE_CUDA=1 (so a GPU run can never pass by skipping)."""
    torch = pytest.importorskip("torch", reason="torch is not installed")
    if request.param == "cuda" and not torch.cuda.is_available():
        if os.environ.get("REQUIRE_CUDA") == "1":
            pytest.fail("REQUIRE_CUDA=1 but torch.cuda.is_available() is False")
        pytest.skip("no CUDA device (set REQUIRE_CUDA=1 to make this a failure)")
    return request.param


def _load_mutant_catalog() -> ModuleType:
    """tests/engines/mutants.py (the textbook engine and its mutants), loaded by path and
    registered as ``mutant_engines``: tests/ is not a package, and test modules must import it
    under any pytest import mode and from any directory (conftest.py is always loaded first)."""
    name = "mutant_engines"
    module = sys.modules.get(name)
    if module is None:
        path = Path(__file__).parent / "engines" / "mutants.py"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return module


_load_mutant_catalog()

_ROOT = Path(__file__).resolve().parent.parent
_FOLDERS = ("engine", "nn", "conformance", "benchmarks", "package")  # pyproject's package-dir keys (test_imports.INSTALLED)


@pytest.fixture(autouse=True)
def _no_part_imported_by_its_folder_name():
    """The checkout's root is on sys.path (for tests.engines): a test that imports ``engine``
    rather than ``vetgrad.engine`` loads a second copy of a part (whose value.py patches the op
    table with its own Value class). Fail the test that did it."""
    yield
    stray = [name for name in _FOLDERS if name in sys.modules
             and str(getattr(sys.modules[name], "__file__", "") or "").startswith(str(_ROOT / name))]
    if stray:
        for module in [m for m in sys.modules if m.split(".")[0] in stray]:
            del sys.modules[module]  # (only the test that did it fails)
    assert not stray, f"imported the checkout's {stray} by folder name: import vetgrad.<part> instead"
