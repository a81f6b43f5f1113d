"""Running the engine under test on a graph: build it, call backward twice, and run each op alone
on the inputs the engine gave it; a deadline for an engine that never returns. No judging here:
what the engine did, as plain data."""

from __future__ import annotations

import math
import signal
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator, NamedTuple

from conformance import judge as J  # noqa: N812 - short name for verdict constants
from conformance.adapters import Adapter
from conformance.graph import Const, Graph, Node
from conformance.torch_ref import ALIASED
from engine.ops import OPS

GRAPH_TIMEOUT = 60.0  # seconds the engine may spend on one graph (forward, backward, its ops)


@dataclass
class EngineRun:
    values: list[float]
    handles: list[Any]
    crash: tuple[int, str] | None = None      # (node, error) in forward
    backward_error: str | None = None
    grads: list[float] | None = None
    repeat_error: str | None = None
    repeat_node: int = -1
    repeat_grads: list[float] | None = None   # every node's grad after a second backward()


# The engine's value, local derivatives (nan for a constant operand; None when backward raised)
# and error of one op run alone.
OpResult = tuple[float, "tuple[float, ...] | None", "str | None"]


class OpAlone(NamedTuple):
    """Node ``index`` of a graph run alone in the engine, in operand ``form``, on ``inputs``."""

    index: int
    node: Node
    form: str
    inputs: tuple[float, ...]
    result: OpResult


def build(adapter: Adapter, graph: Graph) -> EngineRun:
    handles: list[Any] = []
    values: list[float] = []
    for i, node in enumerate(graph.nodes):
        try:
            if node.op == "leaf":
                h = adapter.leaf(node.value)
            else:
                args = [a.value if isinstance(a, Const) else handles[a] for a in node.args]
                h = adapter.apply(OPS[node.op], args, node.params)
            v = adapter.value(h)
        except Exception as exc:
            return EngineRun(values, handles, (i, f"{type(exc).__name__}: {exc}"))
        handles.append(h)
        values.append(v)
    return EngineRun(values, handles)


def backward_twice(adapter: Adapter, run: EngineRun) -> None:
    try:
        adapter.backward(run.handles[-1])
        run.grads = [adapter.grad(h) for h in run.handles]
    except Exception as exc:
        run.backward_error = f"{type(exc).__name__}: {exc}"
        return
    # torch with retain_graph=True adds the same gradients again on a second backward, and so
    # must a micrograd-style engine (micrograd itself counts intermediate gradients twice).
    try:
        adapter.backward(run.handles[-1])
        again = [adapter.grad(h) for h in run.handles]
    except Exception as exc:
        run.repeat_error = f"a second backward raised {type(exc).__name__}: {exc}"
        return
    run.repeat_grads = again
    for i, (g, g2) in enumerate(zip(run.grads, again)):
        if not J.identical(g + g, g2):
            run.repeat_error = (f"a second backward left d(root)/d(node {i}) at {g2!r}; torch "
                                f"(retain_graph=True) adds the same again: {g + g!r}")
            run.repeat_node = i
            return


def op_alone(adapter: Adapter, node: Node, inputs: tuple[float, ...],
             aliased: bool = False) -> OpResult:
    """The op alone in the engine, on these inputs: its value and local derivatives. ``aliased``
    (``x op x``): one leaf as both operands, and the leaf's total derivative."""
    op = OPS[node.op]
    leaves: list[Any] = []
    args: list[Any] = []
    if aliased:
        leaves.append(adapter.leaf(inputs[0]))
        args = leaves * 2
    for a, x in ([] if aliased else zip(node.args, inputs)):
        if isinstance(a, Const):
            args.append(x)
        else:
            leaf = adapter.leaf(x)
            leaves.append(leaf)
            args.append(leaf)
    out = adapter.apply(op, args, node.params)
    value = adapter.value(out)
    try:
        adapter.backward(out)
    except Exception as exc:
        return value, None, f"{type(exc).__name__}: {exc}"
    if aliased:
        return value, (adapter.grad(leaves[0]),), None
    grads = iter(adapter.grad(leaf) for leaf in leaves)
    return value, tuple(next(grads) if not isinstance(a, Const) else math.nan for a in node.args), None


def is_aliased(node: Node) -> bool:
    """``x op x``: one node as both operands (an engine may take a shortcut there)."""
    return len(node.args) == 2 and not isinstance(node.args[0], Const) and node.args[0] == node.args[1]


def run_engine(adapter: Adapter, graph: Graph, alone: list[OpAlone]) -> EngineRun:
    """The graph in the engine (forward, backward twice), and each op alone on its inputs (an
    ``x op x`` node also as one leaf in both operands, form ``ALIASED``), appended to ``alone`` as
    each returns: what ran before a timeout is kept (torch's batched reference still runs it)."""
    run = build(adapter, graph)
    if run.crash is None:
        backward_twice(adapter, run)
    if run.crash is None:
        for i, node in enumerate(graph.nodes):
            if node.op == "leaf":
                continue
            inputs = tuple(a.value if isinstance(a, Const) else run.values[a] for a in node.args)
            checks = [(node.form, inputs)] + ([(ALIASED, inputs[:1])] if is_aliased(node) else [])
            for form, xs in checks:
                try:
                    mine = op_alone(adapter, node, xs, aliased=form == ALIASED)
                except Exception as exc:
                    mine = (math.nan, None, f"crash: {type(exc).__name__}: {exc}")
                alone.append(OpAlone(i, node, form, xs, mine))
    return run


class EngineTimeoutError(Exception):
    """The engine spent longer than the graph timeout on one graph."""


@contextmanager
def deadline(seconds: float | None) -> Iterator[None]:
    """Raise EngineTimeoutError inside whatever runs after ``seconds`` (then every second, in case the
    engine swallows it). Needs SIGALRM and the main thread; elsewhere there is no deadline."""
    if not seconds or not hasattr(signal, "setitimer") or \
            threading.current_thread() is not threading.main_thread():
        yield
        return

    def alarm(signum: int, frame: Any) -> None:
        raise EngineTimeoutError(f"no result after {seconds:g} s: an op or a backward() that never "
                            f"ends? (--graph-timeout)")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds, 1.0)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
