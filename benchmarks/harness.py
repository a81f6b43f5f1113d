"""The harness itself as a workload: 30-node random graphs checked per second.

A round is one ``run_campaign`` call (graph generation, the engine's forward and backward, the
torch reference op by op and end to end, and the judging), with shrinking and the fixed edge-value
sweep off: it measures checking random graphs, not how long a failure takes to minimise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

GRAPH_NODES = 30
ENGINES: dict[str, str] = {"vetgrad": "vetgrad.engine:Value", "micrograd": "micrograd.engine:Value"}


@dataclass(frozen=True)
class Row:
    """One configuration of the harness: an engine under test and the reference's device."""

    engine: str  # a contender name: vetgrad or micrograd
    device: str  # cpu or cuda

    @property
    def name(self) -> str:
        return f"{self.engine} vs torch {self.device}"


ROWS: tuple[Row, ...] = (Row("vetgrad", "cpu"), Row("vetgrad", "cuda"), Row("micrograd", "cpu"))


def check_graphs(row: Row, graphs: int, seed: int = 0) -> Any:
    """Check ``graphs`` random graphs; returns the campaign's report (``graphs``, ``passed``,
    ``failed``, ``elapsed``)."""
    from vetgrad.conformance.run.campaign import run_campaign
    from vetgrad.conformance.run.config import Campaign

    # the fixed edge-value sweep is not a random 30-node graph
    return run_campaign(Campaign(ENGINES[row.engine], graphs=graphs, seed=seed,
                                 max_nodes=GRAPH_NODES, device=row.device, shrink=False,
                                 edges=False))


def check_report(report: Any, graphs: int) -> None:
    """Raise AssertionError unless every graph was judged (passed or failed)."""
    if report.graphs != graphs or report.passed + report.failed != graphs:
        raise AssertionError(f"harness judged {report.graphs} of {graphs} graphs "
                             f"({report.passed} passed, {report.failed} failed)")
