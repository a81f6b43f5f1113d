"""pytest plugin: the conformance check inside an engine author's own test suite.

``pytest --vetgrad-engine mypkg.engine:Value [--vetgrad-level math]`` adds one test per op of the table
(``test_conformance[tanh]``) and per structural check (``test_conformance[graph]``: end-to-end
accumulation; ``test_conformance[backward x2]``: a second backward()), each failing with its
finding and a runnable reproducer, so ``--junitxml`` reports them like any test. Ops the engine
does not offer (missing, or refused by its own ``raise``/``assert``) are skipped with the probe's
reason; an op that is offered but crashes fails with its finding. An engine that leaves nothing
to check (its ``Value(x)`` fails, it offers no op, an op of ``--vetgrad-ops`` is not offered, no
random graph ran) is a usage error, once, never a pass. One campaign serves every test (it runs
at the first of them; the probe runs at collection). Without ``--vetgrad-engine`` the plugin adds nothing. Registered through the ``pytest11``
entry point of the ``conformance`` extra.
"""

from __future__ import annotations

from typing import Any

import pytest

STRUCTURAL = ("graph", "backward x2")
_REPORT = pytest.StashKey[Any]()
_PROBE = pytest.StashKey[Any]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("vetgrad", "vetgrad conformance against PyTorch")
    group.addoption("--vetgrad-engine", metavar="MODULE:ATTR", default=None,
                    help="the engine to check: a micrograd-style Value class or an Adapter "
                         "subclass (adds test_conformance[op] items)")
    group.addoption("--vetgrad-graphs", type=int, default=500, metavar="N",
                    help="random graphs after the edge sweep (default 500)")
    group.addoption("--vetgrad-seed", type=int, default=0, metavar="S", help="campaign seed (default 0)")
    group.addoption("--vetgrad-ops", default=None, metavar="a,b,c",
                    help="only these ops (default: every op of the table)")
    group.addoption("--vetgrad-level", default="math", choices=("math", "robust", "torch"),
                    help="the level of the conformance ladder the tests judge at (default math: "
                         "correct on ordinary inputs; robust: + special values, deep graphs, "
                         "repeated backward; torch: + torch's exact conventions)")
    group.addoption("--vetgrad-strict", action="store_true",
                    help="also fail ops measurably less accurate than torch")


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config,
                                  items: list[pytest.Item]) -> None:
    spec = config.getoption("--vetgrad-engine")
    if not spec:
        return
    from vetgrad.conformance.generate import resolve_ops

    ops_text = config.getoption("--vetgrad-ops")
    try:
        names = [op.name for op in resolve_ops(ops_text.split(",") if ops_text else None)]
    except ValueError as exc:
        raise pytest.UsageError(f"--vetgrad-ops: {exc}") from None
    if config.getoption("--vetgrad-graphs") < 1:
        raise pytest.UsageError("--vetgrad-graphs must be at least 1")
    why = _probe(config, spec, names, ops_text.split(",") if ops_text else None)
    if why:
        raise pytest.UsageError(f"--vetgrad-engine {spec}: {why}")
    for name in [*names, *STRUCTURAL]:
        items.append(ConformanceItem.from_parent(session, name=f"test_conformance[{name}]",
                                                 check=name, spec=spec))


def _probe(config: pytest.Config, spec: str, names: list[str], ops: list[str] | None) -> str | None:
    """The probe's decisions, kept for the skip reasons; why the engine leaves nothing to check
    (None: it leaves something). An engine that cannot be loaded is left to the items."""
    from vetgrad.conformance.adapters import EngineLoadError
    from vetgrad.conformance.campaign import open_engine
    from vetgrad.conformance.probe import nothing_to_check

    try:
        session = open_engine(spec)
    except EngineLoadError:
        return None
    try:
        forms, log = session.forms(), session.probe_log()
    except Exception:  # the engine's process lost in the probe: the campaign reports it
        return None
    finally:
        session.close()
    config.stash[_PROBE] = log
    why = nothing_to_check(names, forms, ops, log)
    return why.replace("--ops ", "--vetgrad-ops ", 1) if why else None


def _report(config: pytest.Config, spec: str) -> Any:
    """The campaign's report, run once for every conformance item."""
    if _REPORT not in config.stash:
        from vetgrad.conformance.adapters import EngineLoadError
        from vetgrad.conformance.campaign import run_campaign

        ops_text = config.getoption("--vetgrad-ops")
        try:
            config.stash[_REPORT] = run_campaign(
                spec, graphs=config.getoption("--vetgrad-graphs"),
                seed=config.getoption("--vetgrad-seed"),
                ops=ops_text.split(",") if ops_text else None,
                strict=config.getoption("--vetgrad-strict"),
                level=config.getoption("--vetgrad-level"))  # (above it: one cheap example a cause)
        except EngineLoadError as exc:
            config.stash[_REPORT] = exc
    return config.stash[_REPORT]


class ConformanceItemError(Exception):
    """A conformance item's failure: the finding and its reproducer, shown without a traceback."""


class ConformanceItem(pytest.Item):
    """One op's (or structural check's) verdict over the shared campaign."""

    def __init__(self, *, check: str, spec: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.check, self.spec = check, spec

    def runtest(self) -> None:
        report = _report(self.config, self.spec)
        from vetgrad.conformance.adapters import NothingCheckedError
        from vetgrad.conformance.campaign import no_graph_checked

        if isinstance(report, NothingCheckedError) or (
                not isinstance(report, Exception) and no_graph_checked(report)):
            why = str(report) if isinstance(report, Exception) else no_graph_checked(report)
            pytest.exit(f"--vetgrad-engine {self.spec}: {why}", returncode=pytest.ExitCode.USAGE_ERROR)
        if isinstance(report, Exception):
            raise ConformanceItemError(f"cannot load the engine: {report}")
        if self.check in report.unsupported and not report.unsupported[self.check]:
            whys = [d[4] for d in self.config.stash.get(_PROBE, []) if d[0] == self.check]
            why = next((w for w in whys if w.startswith(("refused", "not offered"))),
                       whys[0] if whys else None)
            pytest.skip(f"the engine does not offer {self.check}{f' ({why})' if why else ''}")
        from vetgrad.conformance.levels import at_or_below

        level = self.config.getoption("--vetgrad-level")
        findings = [f for f in report.findings
                    if _belongs(f, self.check) and at_or_below(f.level, level)]
        if findings:
            f = findings[0]
            where = "edge sweep" if f.index < 0 else f"graph {f.index}"
            raise ConformanceItemError(
                f"{f.kind} in {f.op} ({where}, node {f.node}, level {f.level}): {f.message}\n\n"
                f"reproducer (python3 reproducer.py):\n{f.reproducer}")
        if self.check == "graph":
            return  # end-to-end structure: judged on every graph that got that far
        stats = report.per_op.get(self.check)
        if stats is None or stats.cases == 0:
            if report.failed_at["torch"] and self.check in report.ops:
                pytest.skip(f"{self.check}: not reached (graphs holding it failed earlier)")
            pytest.skip(f"{self.check}: no case reached it in {report.graphs} graphs")

    def repr_failure(self, excinfo: Any, style: Any = None) -> Any:
        if isinstance(excinfo.value, ConformanceItemError):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Any, int | None, str]:
        return self.path, None, f"vetgrad conformance: {self.check} of {self.spec}"


def _belongs(finding: Any, check: str) -> bool:
    if check == "backward x2":
        return finding.kind == "repeat-backward"
    if check == "graph":
        return finding.op in ("graph", "higher-order") and finding.kind != "repeat-backward"
    return finding.op == check
