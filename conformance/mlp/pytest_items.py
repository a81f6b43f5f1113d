"""The pytest plugin's ``--vetgrad-mlp SPEC [--vetgrad-mlp-step SPEC]``: a collector
``vetgrad-mlp[SPEC]`` with one item per check (build, parameters, forward, loss, gradients, and
training with a step), each failing with its first finding and reproducer. One check_mlp (and
check_training) run serves every item; a model or step that cannot be loaded is a usage error."""

from __future__ import annotations

import os
import sys
from typing import Any, Iterator

import pytest

_REPORT = pytest.StashKey[Any]()
CHECKS = ("build", "parameters", "forward", "loss", "gradients")


def add_options(group: Any) -> None:
    group.addoption("--vetgrad-mlp", default=None, metavar="MODULE:MLP",
                    help="check a learner's MLP class against torch (module:MLP or "
                         "path/to/mlp.py:MLP; collects vetgrad-mlp[SPEC]::<check> items)")
    group.addoption("--vetgrad-mlp-step", default=None, metavar="MODULE:step",
                    help="with --vetgrad-mlp: also check the training step step(model, xs, ys) "
                         "over 5 steps against torch's SGD (the ::training item)")


def collector(session: pytest.Session) -> MlpCollector | None:
    config = session.config
    spec = config.getoption("vetgrad_mlp", None)
    if not spec:
        return None
    step = config.getoption("vetgrad_mlp_step", None)
    from vetgrad.conformance.mlp.api import trains_itself
    from vetgrad.conformance.mlp.learner import UsageError, load

    folder = str(config.invocation_params.dir)
    if folder not in sys.path and "" not in sys.path:
        sys.path.insert(0, folder)  # module:MLP from the folder pytest runs in
    try:
        model = load(spec, "vetgrad-mlp")
        if step:
            load(step, "vetgrad-mlp-step")
    except UsageError as exc:
        raise pytest.UsageError(str(exc)) from None
    train = bool(step) or trains_itself(model.obj)
    name = f"vetgrad-mlp[{spec}]"
    return MlpCollector.from_parent(session, name=name, nodeid=name, spec=spec, step=step,
                                    train=train)


class MlpCollector(pytest.Collector):
    def __init__(self, *, spec: str, step: str | None, train: bool, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.spec, self.step, self.train = spec, step, train

    def collect(self) -> Iterator[pytest.Item]:
        for check in [*CHECKS, *(["training"] if self.train else [])]:
            yield MlpItem.from_parent(self, name=check, check=check)

    def report(self) -> Any:
        if _REPORT not in self.config.stash:
            from vetgrad.conformance.mlp.api import check_all

            self.config.stash[_REPORT] = check_all(self.spec, self.step, train=self.train)
        return self.config.stash[_REPORT]


class MlpItemError(Exception):
    """An MLP item's failure: the finding and its reproducer, shown without a traceback."""


class MlpItem(pytest.Item):
    def __init__(self, *, check: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.check = check

    def runtest(self) -> None:
        assert isinstance(self.parent, MlpCollector)
        report = self.parent.report()
        found = [f for f in report.findings if f.op == self.check]
        if found:
            f = found[0]
            raise MlpItemError(f"{f.shape} {f.op}: {f.message}\n\nreproducer (python3 "
                               f"reproducer.py):\n{f.reproducer}")
        stats = report.per_op.get(self.check)
        if stats is None or stats.cases == 0:
            pytest.skip(f"{self.check}: not reached (an earlier check of every model failed)")

    def repr_failure(self, excinfo: Any, style: Any = None) -> Any:
        if isinstance(excinfo.value, MlpItemError):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Any, int | None, str]:
        return self.path / os.path.basename(self.parent.name), 0, f"vetgrad mlp: {self.check}"
