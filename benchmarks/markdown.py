"""The report as Markdown: one table per suite, ratios to vetgrad, memory, and the targets."""

from __future__ import annotations

from typing import Any, Sequence

from vetgrad.benchmarks import contenders, harness, mlp, workloads
from vetgrad.benchmarks.memory import Memory
from vetgrad.benchmarks.runner import GraphResult, Results

KB = 1000  # "0.15 KB per node" = 150 bytes: a 1,000,000-node chain in 150 MB


def _us(seconds: float, nodes: int) -> str:
    x = seconds / nodes * 1e6
    return f"{x:.2f}" if x < 100 else f"{x:,.0f}"


def _ms(seconds: float) -> str:
    x = seconds * 1e3
    return f"{x:.3f}" if x < 1 else f"{x:.2f}" if x < 100 else f"{x:,.0f}"


def _ratio(x: float | None) -> str:
    if x is None:
        return "—"
    if x < 0.1:
        return f"{x:.2g}×"
    return f"{x:.2f}×" if x < 10 else f"{x:.1f}×" if x < 100 else f"{x:,.0f}×"


def _status(r: Any) -> str:
    """An absent row says why; a failed or wrong one says so in bold, then why."""
    return f"*{r.message}*" if r.status == "absent" else f"**{r.status}**: {r.message}"


def absent_line(rows: Sequence[tuple[str, str]]) -> list[str]:
    """One line for the contenders that cannot run here, grouped by why ((name, reason) pairs,
    each reason as ``absent (...)``), instead of a row per contender and size."""
    by_reason: dict[str, list[str]] = {}
    for name, reason in rows:
        names = by_reason.setdefault(reason.removeprefix("absent").strip(" ()") or "absent", [])
        if name not in names:
            names.append(name)
    if not by_reason:
        return []
    parts = [f"{', '.join(names)} ({why})" for why, names in by_reason.items()]
    return ["", "Not run here: " + "; ".join(parts) + "."]


def _table(head: Sequence[str], align: str, rows: list[list[str]]) -> list[str]:
    marks = ["---:" if a == "r" else "---" for a in align]
    lines = ["| " + " | ".join(head) + " |", "| " + " | ".join(marks) + " |"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return lines


def header(machine: dict[str, Any], mode: str, seed: int, argv: Sequence[str]) -> list[str]:
    torch = machine.get("torch", "absent")
    if torch != "absent":
        torch += f" ({machine.get('torch_threads')} thread(s); CUDA: {machine.get('cuda_device')})"
    load = " ".join(str(x) for x in machine.get("load_average", [])) or "n/a"
    cmd = "python -m vetgrad.benchmarks" + "".join(f" {a}" for a in argv)
    return [
        f"# vetgrad benchmarks ({mode})",
        "",
        f"`{cmd}` · seed {seed} · {machine['cpu_model']}, {machine['cpu_count']} CPUs · "
        f"{machine['python']} · torch {torch} · micrograd {machine['micrograd']} · "
        f"load average at start {load} · garbage collector on (thresholds "
        f"{', '.join(map(str, machine['gc_thresholds']))}) unless a column says otherwise.",
    ]


def _vetgrad_total(rows: Sequence[GraphResult], r: GraphResult) -> float | None:
    for v in rows:
        if v.kind == r.kind and v.size == r.size and v.contender == "vetgrad" and v.status == "ok":
            return v.total
    return None


def graph_table(kind: str, rows: Sequence[GraphResult], reused: float | None) -> list[str]:
    mine = [r for r in rows if r.kind == kind]
    if not mine:
        return []
    if kind == "dag":
        title = "## Random DAG: forward + backward + free, µs per node"
        about = (f"The harness's generator (`conformance.dags.generate.random_graph`, fixed seed), "
                 f"ops {' '.join(workloads.DAG_OPS)}, ordinary values, constants on either side"
                 + (f"; {reused:.0%} of nodes feed more than one node" if reused else "")
                 + ". Compiled once to straight-line Python (`v7 = v3 * v5`), so only the "
                 "engine is timed.")
    else:
        title = "## Deep chain: forward + backward + free, µs per node"
        about = ("One leaf, then `y = (y + y.tanh()).relu()` repeated: 3 nodes a step, depth = "
                 "nodes − 1.")
    head = ["contender", "nodes", "forward", "backward", "free", "total", "total, GC off",
            "÷ vetgrad"]
    out: list[list[str]] = []
    absent = [(r.contender, r.message) for r in mine if r.status == "absent"]
    for r in mine:
        if r.status == "absent":
            continue
        if r.status != "ok":
            blank = ["—"] * (len(head) - 3)
            out.append([r.contender, f"{r.nodes:,}", _status(r), *blank])
            continue
        row = [r.contender, f"{r.nodes:,}", _us(r.forward, r.nodes), _us(r.backward, r.nodes),
               _us(r.free, r.nodes), _us(r.total, r.nodes)]
        row.append("—" if r.total_gc_off is None else _us(r.total_gc_off, r.nodes))
        base = _vetgrad_total(mine, r)
        row.append(_ratio(r.total / base) if base else "—")
        out.append(row)
    align = "ll" + "r" * (len(head) - 2)
    notes = ("Medians, each column on its own: collector pauses land in different phases in "
             "different rounds, so the phases need not add up to the total. *free* is dropping "
             "the root (reference counting; micrograd's closures make cycles that only the cyclic "
             "collector frees, during later rounds, where their cost shows). *GC off*: the Python "
             "engines again with `gc.disable()` (micrograd's cycles are then never freed). "
             "*÷ vetgrad*: the contender's total over vetgrad's, same size, same run."
             + (" *vetgrad-batched*: one `Compiled.batch` call over 1,024 rows divided by 1,024, "
                "so per node per sample (exact: tanh is C's, called per element)"
                "; *-fast*: `exact=False`, numpy's tanh, within 4 ulps of C's, derivatives "
                "unchanged"
                if any(r.contender == "vetgrad-batched" for r in mine) else ""))
    return [title, "", about, "", *_table(head, align, out), *absent_line(absent), "", notes]


def mlp_table(rows: Sequence[Any]) -> list[str]:
    if not rows:
        return []
    base = next((r.step for r in rows if r.contender == "vetgrad" and r.status == "ok"), None)
    out = []
    absent = [(r.contender, r.message) for r in rows if r.status == "absent"]
    for r in rows:
        if r.status == "absent":
            continue
        batch = str(getattr(r, "batch", mlp.BATCH))
        if r.status != "ok":
            out.append([r.contender, r.model or "—", batch, _status(r), "—", "—", "—"])
            continue
        same = base and getattr(r, "batch", mlp.BATCH) == mlp.BATCH
        out.append([r.contender, r.model, batch, _ms(r.step), _ms(r.mean), str(r.rounds),
                    _ratio(r.step / base) if same else "—"])
    return [
        "## MLP training step, ms per step",
        "",
        f"MLP({mlp.NIN}, {list(mlp.NOUTS)}) (ReLU hidden, linear output), batch of {mlp.BATCH}, "
        f"mean squared error, SGD lr {mlp.LR}: zero grads, forward, loss, backward, update. Same "
        "initial weights everywhere (reset untimed before each step); the last step's loss and "
        "updated weights are checked against torch float64 on the same batch. *batch* 1: the "
        "one-sample workload (the batch's first sample). vetgrad-step replays the step "
        "`nn.compile_step` traced once (untimed); vetgrad-numpy is `nn.batched_step`. Each "
        "contender runs in its own process, steps interleaved. *median*: a typical step; *mean*: "
        "with the garbage collector's pauses spread over the steps (micrograd's closures make "
        "cycles for it); *÷ vetgrad* compares medians (batch of 32 only).",
        "",
        *_table(["contender", "model", "batch", "median", "mean", "steps", "÷ vetgrad"],
                "llrrrrr", out),
        *absent_line(absent),
    ]


def harness_table(rows: Sequence[Any]) -> list[str]:
    if not rows:
        return []
    out = []
    for r in rows:
        if r.status != "ok":
            out.append([r.row, _status(r), "—", "—", "—", "—"])
            continue
        out.append([r.row, f"{r.graphs}", f"{r.passed}", f"{r.failed}", f"{r.per_second:,.0f}",
                    f"{r.start:.2f} s"])
    return [
        "## The harness: graphs checked per second",
        "",
        f"`conformance.run.campaign.run_campaign` on {harness.GRAPH_NODES}-node random graphs "
        "(all ops, edge values included), local and end-to-end checks, shrinking off. "
        "micrograd fails graphs by design (no IEEE semantics, set-ordered sums). *graphs / s*: "
        "the campaign's own clock, from its first graph (the engine's process judged in "
        "batches, overlapping the harness's judging); *start*: the rest of each call (the "
        "engine's process started and probed), paid once per campaign.",
        "",
        *_table(["engine vs reference", "graphs a round", "passed", "failed", "graphs / s",
                 "start"], "lrrrrr", out),
    ]


def _bytes_per_node(m: Memory, field: str) -> str:
    x = m.per_node(field)
    return "—" if x is None else f"{x:,.0f} B"


def memory_table(rows: Sequence[Memory]) -> list[str]:
    if not rows:
        return []
    out = []
    absent = [(m.contender, m.error) for m in rows if (m.error or "").startswith("absent")]
    for m in rows:
        if (m.error or "").startswith("absent"):
            continue
        if m.error:
            shown = f"*{m.error}*" if m.error.startswith("absent") else f"**failed**: {m.error}"
            out.append([m.contender, f"{m.nodes:,}", shown, "—", "—", "—"])
            continue
        torch = contenders.get(m.contender).family.startswith("torch")
        peak = m.per_node("rss_peak" if torch else "traced_peak")
        out.append([
            m.contender, f"{m.nodes:,}",
            "n/a (C++ heap)" if torch else _bytes_per_node(m, "traced_graph"),
            "n/a (C++ heap)" if torch else _bytes_per_node(m, "traced_peak"),
            _bytes_per_node(m, "rss_peak"),
            "—" if peak is None else f"{peak:,.0f} MB",  # B/node × 1e6 nodes
        ])
    return [
        "## Memory per node (deep chain, build + backward)",
        "",
        "Each in a fresh interpreter. *traced*: tracemalloc, every byte allocated through "
        "Python's allocators from just before building until backward returns (graph alive): "
        "node objects, floats, closures, `__dict__`s, the topological order and other backward "
        "buffers; *graph* is what the built graph holds, *peak* the most at any moment. *RSS "
        "peak*: resident-set growth over the same span (VmHWM, separate pass), the only figure "
        "that sees torch's C++ tensors and autograd nodes. micrograd needs its recursion limit "
        "raised for backward, and tracemalloc is quadratic in recursion depth, hence its size. "
        "*1,000,000 nodes at peak*: the peak per node (traced; torch: RSS) times a million, "
        "extrapolated where fewer nodes were measured.",
        "",
        *_table(["contender", "nodes", "traced graph / node", "traced peak / node",
                 "RSS peak / node", "1,000,000 nodes at peak"], "lrrrrr", out),
        *absent_line(absent),
    ]


# -- targets ----------------------------------------------------------------------------------


def _dag_ratios(rows: Sequence[GraphResult], against: Sequence[str]) -> list[tuple[int, str, float]]:
    """(size, contender used, ratio to vetgrad) for DAGs of 1,000 nodes and more."""
    found = []
    for r in rows:
        if r.kind != "dag" or r.size < 1_000 or r.contender != "vetgrad" or r.status != "ok":
            continue
        for name in against:
            other = next((o for o in rows if o.kind == "dag" and o.size == r.size
                          and o.contender == name and o.status == "ok"), None)
            if other:
                found.append((r.size, name, other.total / r.total))
                break
    return found


CLOSE_CALL = 0.10  # a ratio this close to its target can land either side in the next run


def _verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else "**met**" if ok else "**missed**"


TARGET_SIZES = (1_000, 10_000, 100_000)  # the DAG sizes a DAG target is about


def _sizes(sizes: Sequence[int]) -> str:
    return ", ".join(f"{s:,}" for s in sizes)


def _sized_verdict(found: Sequence[tuple[int, bool]]) -> str:
    """The verdict of a target over TARGET_SIZES from (size, met?) of the sizes measured in this
    run: **met** only when every size was measured and met; a size not measured says so."""
    if not found:
        return "n/a"
    short = [size for size, ok in found if not ok]
    if short:
        return f"**missed** at {_sizes(short)}"
    unmeasured = [s for s in TARGET_SIZES if s not in {size for size, _ in found}]
    if unmeasured:
        return f"**not measured** at {_sizes(unmeasured)} (met at {_sizes([s for s, _ in found])})"
    return "**met**"


def targets(results: Results) -> list[str]:
    rows: list[list[str]] = []
    g = results.graphs
    for want, names, label in (
        (5.0, ("micrograd", "micrograd-deep"), "≥ 5× faster than micrograd 0.1.0 per node"),
        (12.0, ("torch-f64",), "≥ 12× faster than torch eager float64 (CPU) per node"),
    ):
        found = [f for f in _dag_ratios(g, names) if f[0] in TARGET_SIZES]
        shown = ", ".join(f"{size:,}: {_ratio(x)}" + (" (deep)" if name.endswith("deep") else "")
                          for size, name, x in found) or "not measured"
        verdict = _sized_verdict([(size, x >= want) for size, _, x in found])
        close = [f"{size:,}" for size, _, x in found if abs(x / want - 1.0) < CLOSE_CALL]
        if close:
            verdict += f" (within {CLOSE_CALL:.0%} of the target at {', '.join(close)}: one run decides it)"
        rows.append([f"DAG 1,000–100,000 nodes, fwd + bwd + free: {label}", shown, verdict])
    rows += _compiled_targets(results)
    step = {r.contender: r.step for r in results.mlp if r.status == "ok"}
    if "vetgrad" in step and "micrograd" in step:
        x = step["micrograd"] / step["vetgrad"]
        rows.append(["MLP training step ≥ 10× faster than micrograd", _ratio(x), _verdict(x >= 10)])
    else:
        rows.append(["MLP training step ≥ 10× faster than micrograd", "not measured", "n/a"])
    rows += _step_targets(step)
    mem = next((m for m in results.memory if m.contender == "vetgrad" and not m.error), None)
    if mem is not None and mem.traced_peak is not None:
        per = mem.traced_peak / mem.nodes
        rows.append(["memory ≤ 0.15 KB per node (tracemalloc peak, build + backward)",
                     f"{per / KB:.3f} KB ({per:,.0f} B) at {mem.nodes:,} nodes: "
                     f"{mem.traced_peak / 1e6:,.0f} MB", _verdict(per <= 0.15 * KB)])
    else:
        rows.append(["memory ≤ 0.15 KB per node", "not measured", "n/a"])
    return [
        "## Targets",
        "",
        "(deep) = micrograd with its recursion limit raised, where plain micrograd raises "
        "RecursionError. Ratios are the contender's median time over vetgrad's, same run.",
        "",
        *_table(["target", "measured", "verdict"], "lll", rows),
    ]


STEP_TARGETS = (
    # (target, ours, torch's, the most ours may take as a multiple of torch's time)
    (f"MLP step, batch of {mlp.BATCH}: batched numpy step (`nn.batched_step`) within 3× of torch "
     "nn.Linear on the batch", "vetgrad-numpy", "torch-vec-f64", 3.0),
    ("MLP step, one sample: compiled scalar step (`nn.compile_step`) faster than torch nn.Linear "
     "on one sample", "vetgrad-step-1", "torch-vec-f64-1", 1.0),
)


def _step_targets(step: dict[str, float]) -> list[list[str]]:
    """nn's compiled and batched training steps against torch's nn.Linear: ratios of medians of
    the same run."""
    out = []
    for label, ours, theirs, most in STEP_TARGETS:
        if ours in step and theirs in step:
            x = step[ours] / step[theirs]
            shown = (f"{_ratio(x)} torch's time ({ours} {_ms(step[ours])} ms, {theirs} "
                     f"{_ms(step[theirs])} ms)")
            ok = x <= most if most != 1.0 else x < most
            out.append([label, shown, _verdict(ok)])
        else:
            out.append([label, "not measured", "n/a"])
    return out


def _dag_total(rows: Sequence[GraphResult], name: str, size: int) -> float | None:
    return next((r.total for r in rows if r.kind == "dag" and r.size == size
                 and r.contender == name and r.status == "ok"), None)


def _compiled_targets(results: Results) -> list[list[str]]:
    """engine.compile's targets: ratios of medians of the same run, GC on."""
    g = results.graphs
    sizes = sorted({r.size for r in g if r.kind == "dag" and r.size in TARGET_SIZES})
    out = []
    for want, over, under, label in (
        (1.5, "vetgrad-compiled", "float", "within 1.5× of straight-line float code"),
        (4.0, "vetgrad", "vetgrad-compiled", "≥ 4× faster than eager vetgrad"),
    ):
        found = []
        for size in sizes:
            a, b = _dag_total(g, over, size), _dag_total(g, under, size)
            if a and b:
                found.append((size, a / b))
        verdict = _sized_verdict([(size, (x <= want) if over == "vetgrad-compiled" else
                                   (x >= want)) for size, x in found])
        shown = ", ".join(f"{size:,}: {_ratio(x)}" for size, x in found) or "not measured"
        out.append([f"DAG, GC on: compiled replay {label}", shown, verdict])
    for name, how in (("vetgrad-batched", "exact"), ("vetgrad-batched-fast", "exact=False")):
        batched = []
        for size in sizes:
            t = _dag_total(g, name, size)
            if t:
                others = [f"{o} ÷ batched {_ratio(base / t)}" for o in ("float", "vetgrad")
                          if (base := _dag_total(g, o, size))]
                batched.append(f"{size:,}: {t / size * 1e9:.1f} ns"
                               + (f" ({', '.join(others)})" if others else ""))
        if batched:
            out.append([f"DAG, GC on: batched replay ({how}) over 1,024 rows, ns per node per "
                        "sample (quoted; no target)", "; ".join(batched), "—"])
    mem = results.compiled_memory
    if mem:
        out.append(["memory of a compiled graph, per node (quoted; no target)",
                    f"{mem['held_per_node']:,.0f} B held (code and constants; trace dropped), "
                    f"{mem['peak_per_node']:,.0f} B peak while tracing and compiling, "
                    f"{mem['nodes']:,.0f}-node DAG", "—"])
    return out


def render(results: Results, head: list[str], footer: list[str]) -> str:
    parts = [head]
    for section in (graph_table("dag", results.graphs, results.reused),
                    graph_table("chain", results.graphs, None),
                    mlp_table(results.mlp), harness_table(results.harness),
                    memory_table(results.memory), targets(results)):
        if section:
            parts.append(section)
    return "\n\n".join(["\n".join(p) for p in parts] + list(footer)) + "\n"
