"""The compiled contenders of the DAG suite: ``vetgrad-compiled`` (``engine.compile``, traced once
outside the clock, then replayed), ``float``, the same graph's forward and reverse sweep
written as straight-line float code by hand's rules (``v7 = v3 * v5`` ... ``g3 += g7 * v5``, every
gradient started at 0.0): the limit of pure Python on this graph, and ``vetgrad-batched``
(``Compiled.batch``: the trace over :data:`BATCH` rows at once with numpy; ``-fast``: with
``exact=False``, numpy's own tanh).

Each takes the leaves' numbers as arguments and returns the root's value and the first leaf's
gradient; a round times one call (forward and backward in one: the *backward* and *free* columns
are 0). A batched round is one call over the whole batch; the report divides its times by
:data:`BATCH` (the contender's ``rows``): time per sample. Row 0 holds the workload's numbers and
is checked; the other rows are those numbers scaled by factors in [0.9, 1.1].

``python -m vetgrad.benchmarks.compiled NODES`` prints the compiled graph's memory per node;
``python -m vetgrad.benchmarks.compiled --ops`` the batched replay's cost of each op, ns per row.
"""

from __future__ import annotations

import gc
import json
import math
import sys
import time
import tracemalloc
from typing import Any, Callable

from vetgrad.benchmarks import contenders, workloads

BATCH = contenders.get("vetgrad-batched").rows  # rows of a batched round


def _trace(work: workloads.Workload) -> tuple[list[float], int, Callable[..., Any]]:
    """The leaves' numbers in the order ``forward`` makes them, the index of the first leaf,
    and ``f(*leaves) -> root`` (what engine.compile takes)."""
    from vetgrad.engine import Value

    numbers: list[float] = []
    made: list[Any] = []

    def record(x: float) -> Any:
        numbers.append(x)
        made.append(Value(x))
        return made[-1]

    first, _ = work.forward(record)
    index = next(i for i, v in enumerate(made) if v is first)

    def f(*xs: Any) -> Any:
        it = iter(xs)
        return work.forward(lambda x: next(it))[1]

    return numbers, index, f


def float_source(work: workloads.Workload, name: str = "straight") -> tuple[str, list[float], int]:
    """Straight-line float code for ``work`` (ops add mul tanh relu, constants on either side),
    written as a person would: forward, every gradient = 0.0, then ``+=`` in reverse order."""
    from vetgrad.engine import Value, topological_order
    from vetgrad.engine.ops import ConstOp

    numbers, index, f = _trace(work)
    leaves = [Value(x) for x in numbers]
    order = topological_order([f(*leaves)])
    pos = {id(v): k for k, v in enumerate(order)}
    args = [f"v{pos[id(x)]}" if id(x) in pos else f"unused{j}" for j, x in enumerate(leaves)]
    fwd, back = [], []
    for k, v in enumerate(order):
        if v._a is None:
            continue
        spec, a = v._spec, f"v{pos[id(v._a)]}"
        ga = f"g{pos[id(v._a)]}"
        if isinstance(spec, ConstOp):
            c, name_ = repr(v._b), spec.name
            expr = f"{a} + {c}" if name_ == "add" else f"{a} * {c}"
            fwd.append(f"    v{k} = {expr}")
            back.append(f"    {ga} += g{k}" if name_ == "add" else f"    {ga} += g{k} * {c}")
            continue
        if spec.name in ("add", "mul"):
            b, gb = f"v{pos[id(v._b)]}", f"g{pos[id(v._b)]}"
            fwd.append(f"    v{k} = {a} {'+' if spec.name == 'add' else '*'} {b}")
            if spec.name == "add":
                back += [f"    {ga} += g{k}", f"    {gb} += g{k}"]
            else:
                back += [f"    {ga} += g{k} * {b}", f"    {gb} += g{k} * {a}"]
        elif spec.name == "tanh":
            fwd.append(f"    v{k} = tanh({a})")
            back.append(f"    {ga} += g{k} * (1.0 - v{k} * v{k})")
        elif spec.name == "relu":
            fwd.append(f"    v{k} = {a} if {a} > 0.0 else 0.0")
            back.append(f"    if v{k} > 0.0: {ga} += g{k}")
        else:
            raise ValueError(f"the float baseline knows add mul tanh relu, not {spec.name}")
    first = f"g{pos[id(leaves[index])]}" if id(leaves[index]) in pos else "0.0"
    zeros = [f"    g{k} = 0.0" for k in range(len(order) - 1)]
    lines = [f"def {name}({', '.join(args)}):", *fwd, *zeros, f"    g{len(order) - 1} = 1.0",
             *reversed(back), f"    return v{len(order) - 1}, {first}"]
    return "\n".join(lines) + "\n", numbers, index


class Replayer:
    """One compiled contender on one workload: ``run()`` is a timed round."""

    def __init__(self, family: str, work: workloads.Workload) -> None:
        if family == "vetgrad-compiled":
            from vetgrad.engine import compile as compile_

            self.numbers, self.index, f = _trace(work)
            g = compile_(f)
            g(*self.numbers)  # the trace, outside the clock
            index = self.index

            def call(*xs: float) -> tuple[float, float]:
                value, grads = g(*xs)
                return value, grads[index]

            self.call: Callable[..., tuple[float, float]] = call
            self.compiled = g
        elif family in contenders.BATCHED:
            self._batched(work, exact=family == "vetgrad-batched")
        elif family == "float":
            source, self.numbers, self.index = float_source(work)
            env: dict[str, Any] = {"tanh": math.tanh}
            exec(compile(source, f"<float {work.title}>", "exec"), env)
            self.call = env["straight"]
        else:
            raise ValueError(f"not a compiled family: {family!r}")

    def _batched(self, work: workloads.Workload, exact: bool) -> None:
        import numpy as np
        from vetgrad.engine import compile as compile_

        self.numbers, self.index, f = _trace(work)
        g = compile_(f)
        g(*self.numbers)  # the trace, outside the clock
        rng = np.random.default_rng(0)
        columns = [np.concatenate([[x], x * rng.uniform(0.9, 1.1, BATCH - 1)])
                   for x in self.numbers]
        g.batch(*columns, exact=exact)  # numpy's imports, the code's compilation: not timed
        index = self.index

        def call(*_: float) -> tuple[float, float]:
            values, grads = g.batch(*columns, exact=exact)
            return float(values[0]), float(grads[index][0])

        self.call, self.compiled = call, g

    def run(self) -> workloads.Sample:
        start = time.perf_counter()
        value, grad = self.call(*self.numbers)
        return workloads.Sample(time.perf_counter() - start, 0.0, 0.0, value, grad)


def memory_per_node(nodes: int, seed: int = 0) -> dict[str, float]:
    """Bytes a compiled DAG of ``nodes`` holds (its code and constants; the trace is dropped),
    per node, by tracemalloc: what stays allocated after compiling, and the peak while tracing."""
    work = workloads.dag(nodes, seed)
    from vetgrad.engine import compile as compile_

    numbers, _, f = _trace(work)
    gc.collect()
    tracemalloc.start()
    g = compile_(f)
    g(*numbers)
    gc.collect()
    held, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"nodes": work.nodes, "held_per_node": held / work.nodes,
            "peak_per_node": peak / work.nodes}


def batch_op_costs(rows: int = BATCH, repeats: int = 9) -> dict[str, dict[str, Any]]:
    """The batched replay's cost of a graph of each public op alone (forward and backward, one
    node on one or two leaves), ns per row: the best of ``repeats`` calls over ``rows`` ordinary
    rows, exact and with ``exact=False``, and whether the op's forward is a numpy template or
    its row's float function called per element ("mapped"). The call's own cost is in every
    figure: compare with ``add``'s."""
    import numpy as np
    from vetgrad.engine import Compiled, Value
    from vetgrad.engine import batch_templates as B  # noqa: N812
    from vetgrad.engine.ops import public_ops

    rng = np.random.default_rng(0)
    columns = [rng.uniform(0.1, 2.0, rows), rng.uniform(0.1, 2.0, rows)]
    out: dict[str, dict[str, Any]] = {}
    for op in public_ops():
        if op.vjp is None:
            continue  # backward raises
        params = op.sweep_params[0] if op.sweep_params else ()
        leaves = [Value(0.5), Value(1.5)][:op.arity]
        c = Compiled.from_graph(leaves, op.call(*leaves, *params), name=op.name)  # type: ignore[misc]
        cost = {}
        for exact in (True, False):
            c.batch(*columns[:op.arity], exact=exact)
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                c.batch(*columns[:op.arity], exact=exact)
                times.append(time.perf_counter() - start)
            cost["exact" if exact else "fast"] = min(times) / rows * 1e9
        how = "template" if B.template(B.FORWARD, op.name, "nn") else "mapped"
        out[op.name] = {**cost, "forward": how}
    return out


if __name__ == "__main__":
    if sys.argv[1:] == ["--ops"]:
        print(f"Compiled.batch of one op over {BATCH} rows, forward + backward, ns per row")
        print(f"{'op':12s} {'exact':>8s} {'exact=False':>12s}  forward")
        for name, cost in batch_op_costs().items():
            print(f"{name:12s} {cost['exact']:8.1f} {cost['fast']:12.1f}  {cost['forward']}")
    else:
        print(json.dumps(memory_per_node(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)))
