"""The harness as a library: check an engine, or one graph, from your own code and tests.

>>> from vetgrad.conformance import check_engine
>>> report = check_engine("vetgrad.engine:Value", graphs=50)
>>> report.failed
0
"""

from __future__ import annotations

from typing import Sequence

from vetgrad.conformance.dags.graph import Graph
from vetgrad.conformance.judging.checker import Checker
from vetgrad.conformance.judging.levels import LEVELS, MATH, at_or_below
from vetgrad.conformance.judging.results import Finding, Report
from vetgrad.conformance.reporting.reproducer import reproducer, spellings_of
from vetgrad.conformance.run.campaign import no_graph_checked, run_campaign
from vetgrad.conformance.run.config import Campaign
from vetgrad.conformance.subject.adapters import (
    Adapter,
    NothingCheckedError,
    load_adapter,
    operand_forms,
)
from vetgrad.conformance.subject.address import local_ref
from vetgrad.engine.ops import OPS


class ConformanceError(AssertionError):
    """An engine disagrees with torch: the message is the first finding and its reproducer."""

    def __init__(self, finding: Finding, failed: int | None = None) -> None:
        self.finding = finding
        where = f" ({failed} failing graphs; the first finding follows)" if failed else ""
        super().__init__(f"{finding.kind} in {finding.op} (node {finding.node}){where}: "
                         f"{finding.message}\n\nreproducer:\n{finding.reproducer}")


def check_engine(
    engine: str | type | Adapter,
    *,
    graphs: int = 500,
    seed: int = 0,
    ops: Sequence[str] | None = None,
    level: str = MATH,
    strict: bool = False,
    max_nodes: int = 30,
    device: str = "cpu",
    higher_order: int = 0,
    raise_on_failure: bool = False,
) -> Report:
    """Run a campaign of ``graphs`` random graphs (after the edge sweep) on ``engine`` (a
    ``module:Value`` string, a micrograd-style Value class or an Adapter) and return its report,
    judged at ``level`` of the ladder (``math``, ``robust``, ``torch``: ``report.failed`` counts
    the graphs failing at that level or below; the report holds the whole ladder). With
    ``raise_on_failure`` an engine failing at ``level`` raises :class:`ConformanceError` (an
    AssertionError, so a test fails with the first finding and its runnable reproducer).
    NothingCheckedError (conformance.subject.adapters; an EngineLoadError) when nothing was checked: the
    engine's ``Value(x)`` fails, it offers no op, an op of ``ops`` is not offered, or no random
    graph ran; never an empty pass."""
    if isinstance(graphs, int) and graphs < 1:  # (a campaign may have none: the sweep alone)
        raise ValueError(f"graphs must be at least 1, got {graphs}")
    campaign = Campaign(engine, graphs=graphs, seed=seed, ops=ops, strict=strict,
                        max_nodes=max_nodes, device=device, higher_order=higher_order,
                        level=level)
    report = run_campaign(campaign)
    report.level = level
    why = no_graph_checked(report)
    if why:
        raise NothingCheckedError(why)
    failing = [f for f in report.findings if at_or_below(f.level, level)]
    if raise_on_failure and failing:
        raise ConformanceError(failing[0], report.failed)
    return report


def check_graph(engine: str | type | Adapter, graph: Graph, *, level: str = "torch",
                strict: bool = False, device: str = "cpu") -> Finding | None:
    """Judge one graph (e.g. drawn from :func:`conformance.dags` in your own hypothesis test):
    its first finding at ``level`` or below (default ``torch``: any disagreement; ``math`` for a
    textbook engine on ordinary inputs), with a reproducer, or None when the engine agrees with
    torch. A graph using an op or operand form the engine does not offer is a ValueError, not a
    finding."""
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}, got {level!r}")
    adapter = load_adapter(engine)
    graph.validate()
    forms = adapter.forms()
    for node in graph.nodes:
        if node.op == "leaf":
            continue
        if node.op not in OPS or node.form not in operand_forms(OPS[node.op]):
            raise ValueError(f"node {node.op!r} with operand form {node.form!r} is not an op of the table")
        if node.form not in forms.get(node.op, ()):
            raise ValueError(f"the engine does not offer {node.op} in form {node.form!r} "
                             f"(it offers {', '.join(forms.get(node.op, ())) or 'no form'})")
    (result,) = Checker(adapter, device, strict).check([graph], [0])
    finding = next((f for f in result.findings if at_or_below(f.level, level)), None)
    if finding is not None:
        finding.reproducer = reproducer(finding, local_ref(adapter), spellings_of(adapter, finding.graph))
    return finding
