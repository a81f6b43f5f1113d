"""pytest plugin: the conformance check inside an engine author's own test suite.

``pytest --vetgrad-engine mypkg.engine:Value [--vetgrad-level math]`` collects one test per op of
the table and two structural ones, under a collector named after the engine: node ids
``vetgrad[mypkg.engine:Value]::tanh``, ``...::graph`` (end-to-end accumulation) and
``...::backward x2`` (a second backward()). They are ordinary items: ``--collect-only`` lists
them, ``-k tanh`` selects them, and ``--junitxml`` writes them with the engine as ``classname``
and the op as ``name``. Each fails with its finding and a runnable reproducer. Ops the engine does
not offer (missing, or refused by its own ``raise``/``assert``) are collected and skipped with the
probe's reason, so that the list is the same for every engine and a lacking op shows in the
summary; an op that is offered but crashes fails with its finding.

The probe runs at collection, in the engine's own process: an engine that cannot be loaded (no
such module or file, a SyntaxError, no such attribute, not a Value class) or leaves nothing to
check (its ``Value(x)`` fails, it offers no op, an op of ``--vetgrad-ops`` is not offered) is one
usage error (exit status 4), never a pass. One campaign serves every item (it runs at the first
of them; ``--collect-only`` runs none); ``--vetgrad-json PATH`` writes its report as
``python -m vetgrad.conformance --json`` does.

Every option but ``--vetgrad-json`` may also be set in the configuration file (``pytest.ini``,
``[tool.pytest.ini_options]`` or ``[tool.pytest]`` of pyproject.toml) as ``vetgrad_engine``,
``vetgrad_graphs``, ``vetgrad_seed``, ``vetgrad_ops``, ``vetgrad_level``, ``vetgrad_strict``; the
command line wins. A module name (``engine:Value``) is looked up first in the folder pytest was
started in, then in the rootdir, as ``python -m`` would (the ``pytest`` script alone does not); a
file (``./engine.py:Value``) given in the configuration file is relative to that file. Without an
engine the plugin adds nothing. Registered through the ``pytest11`` entry point.
"""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import pytest

STRUCTURAL = ("graph", "backward x2")
LEVELS = ("math", "robust", "torch")  # conformance.judging.levels.LEVELS, without importing the harness
_SETTINGS = pytest.StashKey["Settings | None"]()
_REPORT = pytest.StashKey[Any]()


@dataclass(frozen=True)
class _Option:
    """One setting: ``--vetgrad-<name>`` on the command line, ``vetgrad_<name>`` in the ini file."""

    name: str
    help: str
    default: Any
    ini_type: str = "string"
    metavar: str | None = None
    choices: tuple[str, ...] | None = None
    flag: bool = False  # a store_true switch

    @property
    def dest(self) -> str:
        return f"vetgrad_{self.name}"


OPTIONS = (
    _Option("engine", "the engine to check: a micrograd-style Value class or an Adapter subclass, "
            "module:attr or path/to/file.py:attr (collects vetgrad[ENGINE]::<op> items)",
            None, metavar="MODULE:ATTR"),
    _Option("graphs", "random graphs after the edge sweep (default 500)", 500, "int", "N"),
    _Option("seed", "campaign seed (default 0)", 0, "int", "S"),
    _Option("ops", "only these ops (default: every op of the table)", None, metavar="a,b,c"),
    _Option("level", "the level of the conformance ladder the tests judge at (default math: "
            "correct on ordinary inputs; robust: + special values, deep graphs, repeated "
            "backward; torch: + torch's exact conventions)", "math", choices=LEVELS),
    _Option("strict", "also fail ops measurably less accurate than torch", False, "bool", flag=True),
)


@dataclass(frozen=True)
class Settings:
    """The plugin's settings once the command line and the ini file are read (the former wins)."""

    engine: str
    graphs: int
    seed: int
    ops: list[str] | None
    level: str
    strict: bool
    json: str | None
    names: list[str] = field(default_factory=list)  # the ops to collect, in the table's order
    search: tuple[str, ...] = ()  # folders a plain module name is looked up in, first to last


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("vetgrad", "vetgrad conformance against PyTorch")
    for opt in OPTIONS:
        flag = f"--vetgrad-{opt.name}"
        ini_help = f"{opt.help.split(' (default')[0]} (the command line's {flag} wins)"
        if opt.flag:
            group.addoption(flag, action="store_true", default=None, dest=opt.dest, help=opt.help)
        else:
            group.addoption(flag, default=None, dest=opt.dest, metavar=opt.metavar,
                            choices=opt.choices, help=opt.help)
        try:
            parser.addini(opt.dest, ini_help, type=opt.ini_type, default=opt.default)  # type: ignore[arg-type]
        except (AssertionError, ValueError):  # pytest < 8.4 has no "int": read as a string
            parser.addini(opt.dest, ini_help, default=str(opt.default))
    group.addoption("--vetgrad-json", default=None, metavar="PATH",
                    help="write the campaign's report as JSON, as python -m vetgrad.conformance "
                         "--json does (checked before the run, written atomically)")
    from vetgrad.conformance.mlp.pytest_items import add_options

    add_options(group)  # --vetgrad-mlp, --vetgrad-mlp-step


def settings(config: pytest.Config) -> Settings | None:
    """The settings (None: no engine named, the plugin adds nothing); a pytest.UsageError for a
    value that cannot be used. Read once."""
    if _SETTINGS not in config.stash:
        config.stash[_SETTINGS] = _read_settings(config)
    return config.stash[_SETTINGS]


def _read_settings(config: pytest.Config) -> Settings | None:
    raw = {opt.name: _raw(config, opt) for opt in OPTIONS}
    spec, from_ini = raw["engine"]
    if not spec:
        return None
    spec = str(spec).strip()
    if ":" not in spec.strip(":") or spec.startswith(":") or spec.endswith(":"):
        raise pytest.UsageError(f"{_said('engine', from_ini)} must look like module:attr "
                                f"(e.g. engine:Value), got {spec!r}")
    if from_ini:
        spec = _relative_to_ini(config, spec)
    values: dict[str, Any] = {}
    for name, parse in _PARSERS.items():
        value, ini = raw[name]
        try:
            values[name] = parse(value)
        except (TypeError, ValueError) as exc:
            raise pytest.UsageError(f"{_said(name, ini)}: {exc}") from None
    from vetgrad.conformance.dags.generate import resolve_ops

    try:
        names = [op.name for op in resolve_ops(values["ops"])]
    except ValueError as exc:
        raise pytest.UsageError(f"{_said('ops', raw['ops'][1])}: {exc}") from None
    out = config.getoption("vetgrad_json")
    if out is not None:
        from vetgrad.conformance.reporting.output import check_output_path

        if out in ("", "-"):  # stdout is pytest's (captured while an item runs)
            raise pytest.UsageError("--vetgrad-json needs a file path")
        out = os.path.join(config.invocation_params.dir, out)
        why = check_output_path(out, "--vetgrad-json")
        if why:
            raise pytest.UsageError(why)
    search = tuple(dict.fromkeys(str(p) for p in (config.invocation_params.dir, config.rootpath)))
    return Settings(spec, names=names, json=out, search=search, **values)


def _raw(config: pytest.Config, opt: _Option) -> tuple[Any, bool]:
    """``(value, from_ini)``: the command line's value, else the ini file's, else the default."""
    value = config.getoption(opt.dest)
    if value is not None:
        return value, False
    try:
        return config.getini(opt.dest), True
    except (TypeError, ValueError) as exc:  # e.g. vetgrad_graphs = "many" in pyproject.toml
        raise pytest.UsageError(f"{opt.dest}: {exc}") from None


def _said(name: str, from_ini: bool) -> str:
    """How the user spelled a setting, for a message."""
    return f"vetgrad_{name} (ini)" if from_ini else f"--vetgrad-{name}"


def _whole(least: int | None) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise ValueError(f"expected a whole number, got {value!r}") from None
        if least is not None and number < least:
            raise ValueError(f"must be at least {least}, got {number}")
        return number

    return parse


def _level(value: Any) -> str:
    if value not in LEVELS:
        raise ValueError(f"expected one of {', '.join(LEVELS)}, got {value!r}")
    return str(value)


def _ops(value: Any) -> list[str] | None:
    return [s.strip() for s in str(value or "").split(",") if s.strip()] or None


def _strict(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "on")


_PARSERS: dict[str, Callable[[Any], Any]] = {
    "graphs": _whole(1), "seed": _whole(None), "ops": _ops, "level": _level, "strict": _strict}


def _relative_to_ini(config: pytest.Config, spec: str) -> str:
    """A file given in the ini file (``./engine.py:Value``) is relative to that file's folder;
    unchanged when pytest runs in that folder (the report names it as written)."""
    from vetgrad.conformance.subject.spec import _is_file_spec

    file, _, attr = spec.rpartition(":")
    folder = config.inipath.parent if config.inipath else config.rootpath
    if not _is_file_spec(spec) or os.path.isabs(file) or folder == config.invocation_params.dir:
        return spec
    return f"{os.path.relpath(folder / file, config.invocation_params.dir)}:{attr}"


@contextlib.contextmanager
def _engine_on_path(s: Settings) -> Iterator[None]:
    """A plain module name is looked up in the invocation folder, then the rootdir, as
    ``python -m`` looks in the current folder (the ``pytest`` script does not put it on
    sys.path); the engine's process gets this sys.path (subject.spec.search_path). For the probe
    and the campaign only: the tests' own sys.path is left as it was."""
    saved = list(sys.path)
    present = {p or os.getcwd() for p in sys.path}
    sys.path[:0] = [p for p in s.search if p not in present]
    try:
        yield
    finally:
        sys.path[:] = saved


def pytest_report_header(config: pytest.Config) -> str | None:
    s = settings(config)
    if s is None:
        return None
    return (f"vetgrad: engine {s.engine}, level {s.level}, {s.graphs} graphs, seed {s.seed}"
            f"{', strict' if s.strict else ''}{', ops ' + ','.join(s.ops) if s.ops else ''}")


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Any:
    """The session's collection gains one collector, ``vetgrad[ENGINE]``, beside the test files
    (after them): its items are collected, counted, selected and reported like any others."""
    report = yield
    if isinstance(collector, pytest.Session) and report.passed:
        s = settings(collector.config)
        if s is not None:
            forms, log = _probe(s)
            name = f"vetgrad[{s.engine}]"  # a top-level id, as a file's (not "::vetgrad[...]")
            report.result.append(EngineCollector.from_parent(
                collector, name=name, nodeid=name, settings=s, forms=forms, log=log))
        if collector.config.getoption("vetgrad_mlp", None):
            from vetgrad.conformance.mlp.pytest_items import collector as mlp_collector

            report.result.append(mlp_collector(collector))
    return report


def _probe(s: Settings) -> tuple[dict[str, tuple[str, ...]] | None, list[Any]]:
    """The probe's forms and decisions (None, []: its process was lost, the campaign reports it);
    a pytest.UsageError when the engine cannot be loaded or leaves nothing to check."""
    from vetgrad.conformance.run.campaign import open_engine
    from vetgrad.conformance.subject.adapters import EngineLoadError
    from vetgrad.conformance.subject.probe import nothing_to_check

    try:
        with _engine_on_path(s):
            session = open_engine(s.engine)
    except EngineLoadError as exc:
        raise _usage(s.engine, str(exc)) from None
    try:
        forms, log = session.forms(), session.probe_log()
    except Exception:  # the engine's process lost in the probe: the campaign reports it
        return None, []
    finally:
        session.close()
    why = nothing_to_check(s.names, forms, s.ops, log)
    if why:
        raise _usage(s.engine, why.replace("--ops ", "--vetgrad-ops ", 1))
    return forms, log


def _usage(spec: str, why: str) -> pytest.UsageError:
    if why.startswith("--engine "):  # the file spec's own message names the option
        return pytest.UsageError("--vetgrad-engine " + why.removeprefix("--engine "))
    return pytest.UsageError(f"--vetgrad-engine {spec}: {why}")


def _not_offered(check: str, log: list[Any]) -> str:
    whys = [d[4] for d in log if d[0] == check]
    why = next((w for w in whys if w.startswith(("refused", "not offered"))), whys[0] if whys else None)
    return f"the engine does not offer {check}{f' ({why})' if why else ''}"


class EngineCollector(pytest.Collector):
    """``vetgrad[ENGINE]``: one item per op of the table, then the structural checks."""

    def __init__(self, *, settings: Settings, forms: dict[str, tuple[str, ...]] | None,
                 log: list[Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.settings, self.forms, self.log = settings, forms, log

    def collect(self) -> Iterator[pytest.Item]:
        for check in [*self.settings.names, *STRUCTURAL]:
            item = ConformanceItem.from_parent(self, name=check, check=check)
            if self.forms is not None and check not in STRUCTURAL and check not in self.forms:
                item.add_marker(pytest.mark.skip(reason=_not_offered(check, self.log)))
            yield item


def _report(config: pytest.Config, s: Settings) -> Any:
    """The campaign's report (or the EngineLoadError it raised), run once for every item; the
    JSON report written as soon as it is there."""
    if _REPORT not in config.stash:
        from vetgrad.conformance.run.campaign import run_campaign
        from vetgrad.conformance.run.config import Campaign
        from vetgrad.conformance.subject.adapters import EngineLoadError

        try:
            with _engine_on_path(s):
                campaign = Campaign(s.engine, graphs=s.graphs, seed=s.seed, ops=s.ops,
                                    strict=s.strict, level=s.level)  # (above it: one example a cause)
                report = run_campaign(campaign)
            report.level = s.level
        except EngineLoadError as exc:
            report = exc
        config.stash[_REPORT] = report
        if s.json and not isinstance(report, Exception):
            _write_json(report, s, campaign)
    return config.stash[_REPORT]


def _write_json(report: Any, s: Settings, campaign: Any) -> None:
    import argparse
    import json

    from vetgrad.conformance.reporting.json_report import report_json
    from vetgrad.conformance.reporting.output import write_atomically

    args = argparse.Namespace(engine=s.engine, graphs=s.graphs, seed=s.seed,
                              ops=",".join(s.ops) if s.ops else None, level=s.level,
                              strict=s.strict, device=campaign.device, max_nodes=campaign.max_nodes,
                              shard=campaign.shard, json=s.json)
    write_atomically(s.json, json.dumps(report_json(report, args), indent=1))


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    s = config.stash.get(_SETTINGS, None)
    if s is None or not s.json:
        return
    if isinstance(config.stash.get(_REPORT, None), Exception) or _REPORT not in config.stash:
        terminalreporter.write_line(f"vetgrad: no campaign ran, {s.json} not written")
    else:
        terminalreporter.write_line(f"vetgrad: report written to {s.json}")


class ConformanceItemError(Exception):
    """A conformance item's failure: the finding and its reproducer, shown without a traceback."""


class ConformanceItem(pytest.Item):
    """One op's (or structural check's) verdict over the shared campaign."""

    def __init__(self, *, check: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.check = check

    def runtest(self) -> None:
        s = settings(self.config)
        assert s is not None  # collected only with an engine
        report = _report(self.config, s)
        from vetgrad.conformance.run.campaign import no_graph_checked
        from vetgrad.conformance.subject.adapters import NothingCheckedError

        if isinstance(report, NothingCheckedError) or (
                not isinstance(report, Exception) and no_graph_checked(report)):
            why = str(report) if isinstance(report, Exception) else no_graph_checked(report)
            pytest.exit(f"--vetgrad-engine {s.engine}: {why}", returncode=pytest.ExitCode.USAGE_ERROR)
        if isinstance(report, Exception):
            raise ConformanceItemError(f"cannot load the engine: {report}")
        if self.check in report.unsupported and not report.unsupported[self.check]:
            assert isinstance(self.parent, EngineCollector)
            pytest.skip(_not_offered(self.check, self.parent.log))
        from vetgrad.conformance.judging.levels import at_or_below

        findings = [f for f in report.findings
                    if _belongs(f, self.check) and at_or_below(f.level, s.level)]
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
        # where a report places it (a skip's summary line, JUnit's file): the engine's collector,
        # a name beside the tests' files, not a file; line 0, as a skip mark needs a line
        return self.path / self.parent.name, 0, f"vetgrad conformance: {self.check}"


def _belongs(finding: Any, check: str) -> bool:
    if check == "backward x2":
        return finding.kind == "repeat-backward"
    if check == "graph":
        return finding.op in ("graph", "higher-order") and finding.kind != "repeat-backward"
    return finding.op == check
