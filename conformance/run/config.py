"""One campaign's settings, as one frozen value: what the command line, the library
(``check_engine``, ``run_campaign``), the pytest plugin, worker processes, cluster shards and the
benchmarks build once and pass down, instead of a list of keywords each.

Every setting is checked here, once (``__post_init__``): a bad one is a ValueError (a TypeError
for a wrong type) naming the field. A worker's or a shard's share is the same campaign with a
field or two replaced (:meth:`Campaign.replace`, checked again)."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any, Sequence

from vetgrad.conformance.judging.levels import LEVELS
from vetgrad.conformance.subject.execute import GRAPH_TIMEOUT, MAX_HANGS

__all__ = ["Campaign"]

DEVICE = re.compile(r"(cpu|cuda)(:\d+)?")


@dataclass(frozen=True)
class Campaign:
    """A campaign of ``graphs`` random graphs (or as many as fit in ``seconds``) of one engine on
    one device (``cpu`` or ``cuda``).

    ``engine``: a ``module:attr`` string, a micrograd-style Value class, an Adapter, or an engine
    spec (conformance.subject.spec: what a worker elsewhere needs). Graph ``i`` of ``shard``
    ``K/N`` is global graph ``K-1 + i*N``, so shards never overlap and any machine reproduces any
    graph. ``blocks=(j, W)`` checks only batches j, j+W, ... of ``batch`` graphs each (worker j of
    W: each batch is the same whatever W, so no count depends on the number of workers). ``ops``:
    only these ops (None: every op of the table). ``strict``: also fail ops measurably less
    accurate than torch. ``level``: the level of the ladder the report is judged at; only findings
    at it or below are confirmed and shrunk in full (up to ``max_findings``), one example per
    cause above it cheaply (None: up to ``max_findings`` of any level in full). ``shrink``: shrink
    the findings. ``higher_order``: also check derivatives up to this order (0: off). ``edges``
    (shard 1 only): the exhaustive sweep of each op over its kink and edge values comes first.
    After ``max_hangs`` graphs ran out of ``graph_timeout`` seconds the campaign stops (0:
    never). ``isolate``: the engine runs in its own process (False: in this one, for tests).
    ``memory_limit``: bytes of data the engine's process may hold (None: half this machine's
    memory, at most 8 GiB; 0: no cap). ``forms``: the probe's answer, when the caller has it (the
    workers of one campaign share one probe)."""

    engine: Any = "vetgrad.engine:Value"
    graphs: int | None = 1000
    seconds: float | None = None
    seed: int = 0
    max_nodes: int = 30
    ops: Sequence[str] | None = None
    device: str = "cpu"
    strict: bool = False
    level: str | None = None
    shard: tuple[int, int] = (1, 1)
    blocks: tuple[int, int] = (0, 1)
    batch: int = 256
    max_findings: int = 20
    shrink: bool = True
    higher_order: int = 0
    edges: bool = True
    graph_timeout: float | None = GRAPH_TIMEOUT
    max_hangs: int = MAX_HANGS
    isolate: bool = True
    memory_limit: int | None = None
    forms: dict[str, tuple[str, ...]] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.graphs is None and self.seconds is None:
            raise ValueError("give graphs or seconds (or both)")
        if self.ops is not None:
            if isinstance(self.ops, str):
                raise TypeError(f"ops must be a list of op names, got the string {self.ops!r}")
            object.__setattr__(self, "ops", tuple(self.ops))
        for name in ("shard", "blocks"):
            value = getattr(self, name)
            if not (isinstance(value, Sequence) and len(value) == 2
                    and all(_whole(v) for v in value)):
                raise TypeError(f"{name} must be a pair of whole numbers, got {value!r}")
            object.__setattr__(self, name, tuple(value))
        self._check_counts()
        self._check_choices()

    def _check_counts(self) -> None:
        _at_least("graphs", self.graphs, 0, optional=True)
        _at_least("seed", self.seed, None)
        _at_least("max_nodes", self.max_nodes, 1)
        _at_least("batch", self.batch, 1)
        _at_least("max_findings", self.max_findings, 0)
        _at_least("higher_order", self.higher_order, 0)
        _at_least("max_hangs", self.max_hangs, 0)
        _at_least("memory_limit", self.memory_limit, 0, optional=True)
        for name in ("seconds", "graph_timeout"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, (int, float))
                                          and not isinstance(value, bool) and value > 0):
                raise ValueError(f"{name} must be a positive number of seconds or None, got {value!r}")
        k, n = self.shard
        if not 1 <= k <= n:
            raise ValueError(f"shard K/N needs 1 <= K <= N, got {k}/{n}")
        j, w = self.blocks
        if not 0 <= j < w:
            raise ValueError(f"blocks (j, W) needs 0 <= j < W, got {(j, w)}")

    def _check_choices(self) -> None:
        if self.level is not None and self.level not in LEVELS:
            raise ValueError(f"level must be one of {', '.join(LEVELS)}, got {self.level!r}")
        if not (isinstance(self.device, str) and DEVICE.fullmatch(self.device)):
            raise ValueError(f"device must be cpu or cuda, got {self.device!r}")
        for name in ("strict", "shrink", "edges", "isolate"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be True or False, got {getattr(self, name)!r}")

    def replace(self, **changes: Any) -> Campaign:
        """This campaign with ``changes`` (checked as a new one is)."""
        return dataclasses.replace(self, **changes)


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _at_least(name: str, value: Any, low: int | None, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not _whole(value):
        raise TypeError(f"{name} must be a whole number{' or None' if optional else ''}, got {value!r}")
    if low is not None and value < low:
        raise ValueError(f"{name} must be at least {low}, got {value}")
