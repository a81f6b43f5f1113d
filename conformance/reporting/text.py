"""The report as text: the ladder in one line, the per-op table, the diagnoses and findings."""

from __future__ import annotations

from vetgrad.conformance.judging.levels import at_or_below
from vetgrad.conformance.judging.results import OpStats, Report, printable
from vetgrad.conformance.subject.probe import FORM_LEGEND


def ladder_line(report: Report) -> str:
    """``math ✔ · robust ✘ div, log (raises ZeroDivisionError where torch gives inf or nan) ·
    torch ✘ 3 ops (the sign of a zero gradient (torch convention))``."""
    parts = []
    for level, reached, causes in report.ladder():
        if reached and not causes:
            parts.append(f"{level} ✔")
            continue
        ops = list(dict.fromkeys(op for _, by_op in causes for op in by_op))
        named = ", ".join(ops) if len(ops) <= 4 else f"{len(ops)} ops"
        top = f" ({causes[0][0]})" if causes else ""
        parts.append(f"{level} {'✔' if reached else '✘'} {named}{top}")
    return " · ".join(parts)


# Rows of the table that are checks of a whole graph, not ops (see conformance.judging.checker).
CHECKS = {"backward x2": "a second backward() of each graph", "graph": "backward() of whole graphs",
          "higher-order": "the --higher-order check"}
# Ops every graph uses whatever --ops asks (conformance.dags.generate, conformance.run.campaign_graphs).
HELPERS = {"add": "sums each graph's outputs into its root; the edge sweep's deep chain"}


def _repeat_cause(cause: str) -> bool:
    return "second backward()" in cause


def op_status(report: Report, name: str) -> str:
    """ok, imprecise, fail or unsupported, at the report's level (a whole-graph check's
    ``backward x2`` fails with the findings of a second backward())."""
    if name in report.unsupported and not report.unsupported[name]:
        return "unsupported"
    failing = {op for (level, cause), by_op in report.causes.items()
               if at_or_below(level, report.level) for op in by_op
               if op != "graph" or not _repeat_cause(cause)}
    if any(_repeat_cause(cause) and at_or_below(level, report.level)
           for (level, cause) in report.causes):
        failing.add("backward x2")
    st = report.per_op.get(name)
    if name in failing:
        return "fail"
    return "imprecise" if st is not None and st.imprecise else "ok"


def graph_counts(report: Report) -> str:
    """``2000 random graphs + 44 edge-sweep graphs``: --graphs counts the random ones only."""
    random = f"{report.random_graphs} random graph{'s' if report.random_graphs != 1 else ''}"
    if not report.sweep_graphs:
        return random
    return f"{random} + {report.sweep_graphs} edge-sweep graph{'s' if report.sweep_graphs != 1 else ''}"


def tested_forms(report: Report) -> dict[str, list[str]]:
    """The operand forms tested of each op tested (the op's forms less those not offered)."""
    from vetgrad.conformance.subject.probe import operand_forms
    from vetgrad.engine.ops import OPS

    return {name: [f for f in operand_forms(OPS[name]) if f not in report.unsupported.get(name, [])]
            for name in report.ops if name in OPS}


def tested_line(report: Report) -> str:
    """``tested: 9 ops in 19 operand forms (of 26 ops asked)``."""
    forms = tested_forms(report)
    n, m = len(forms), sum(len(v) for v in forms.values())
    asked = len(report.ops) + sum(1 for v in report.unsupported.values() if not v)
    return (f"tested: {n} op{'s' if n != 1 else ''} in {m} operand form{'s' if m != 1 else ''} "
            f"(of {asked} op{'s' if asked != 1 else ''} asked)")


def kind_counts(report: Report) -> str:
    """Passed and failed per kind of graph, at the report's level."""
    line = (f"random graphs: {report.random_graphs - report.random_failed} passed, "
            f"{report.random_failed} failed")
    if report.sweep_graphs:
        line += (f" · edge-sweep graphs: {report.sweep_graphs - report.sweep_failed} passed, "
                 f"{report.sweep_failed} failed")
    return line


def _row(name: str, st: OpStats, status: str) -> str:
    return (f"{name:<12} {st.cases:>8} {st.passed:>8} {st.failed:>7} {st.imprecise:>9} "
            f"{st.worst_ulps:>10.0f}  {status}")


def _table(report: Report) -> list[str]:
    """The per-op table: the ops asked (``report.ops``), then the whole-graph checks; an op not
    asked (a helper every graph uses, or one a finding blames) gets a row only when it fails,
    with the reason it is there, else a note below the table."""
    lines = [f"{'op':<12} {'cases':>8} {'passed':>8} {'failed':>7} {'imprecise':>9} "
             f"{'worst ulps':>10}  status"]
    helpers: list[str] = []
    unasked = [name for name in report.per_op if name not in report.ops and name not in CHECKS]
    checks = [name for name in CHECKS if name in report.per_op]
    for name in [*report.ops, *unasked, *checks]:
        st = report.per_op.get(name)
        if st is None or st.cases == 0:
            lines.append(f"{name:<12} {0:>8} {0:>8} {0:>7} {0:>9} {'-':>10}  not reached")
            continue
        status = op_status(report, name)
        status = "FAIL" if status == "fail" else status
        if st.failed and status != "FAIL":
            status += f" at {report.level}; fails above it"
        forms = report.unsupported.get(name)
        if forms:
            status += f" (forms {','.join(forms)} unsupported)"
        if name in CHECKS:
            status += f" ({CHECKS[name]}: a check, not an op)"
        elif name not in report.ops:
            why = HELPERS.get(name, "a finding names it")
            if status == "FAIL" or st.failed:
                status += f" (not in --ops: {why})"
            else:
                helpers.append(f"{name} ({why}): {st.cases} cases, none failed")
                continue
        lines.append(_row(name, st, status))
    if helpers:
        lines.append(f"not in --ops, used by the graphs: {'; '.join(helpers)}")
    crossed = [(name, st) for name, st in report.per_op.items() if st.class_differences]
    if crossed:
        lines.append("passed across a class (rounding explains it against the exact value; no ulp "
                     "distance counted for them):")
        lines.extend(f"  {name}: {st.class_differences} case{'s' if st.class_differences > 1 else ''}"
                     f", e.g. {st.class_example}" for name, st in crossed)
    if any(report.unsupported.values()):
        lines.append(FORM_LEGEND)
    return lines


def spelled_line(report: Report) -> str | None:
    """``spelled: value .val, children .children, backward .back_prop()``: how the engine's Value
    class names a node's parts, where it differs from micrograd (None where it does not)."""
    from vetgrad.conformance.subject.adapters import NodeSpelling

    said = NodeSpelling.from_json(report.spelled).said() if report.spelled else ""
    return f"spelled: {said}" if said else None


def format_report(report: Report, show: int) -> str:
    spelled = spelled_line(report)
    lines = [spelled] if spelled else []
    lines.append(f"ladder: {ladder_line(report)}   (judged at --level {report.level})")
    if report.precision != "float64":
        lines.append(f"the engine computes in {report.precision}: judged with {report.precision}'s "
                     f"rounding (values off by ~1e-8 relative are no failure; --strict holds it "
                     f"to float64)")
    lines.extend(_table(report))
    if report.kinds:
        kinds = ", ".join(f"{k}: {n}" for k, n in sorted(report.kinds.items(), key=lambda kv: -kv[1]))
        lines.append(f"failing graphs by first finding: {kinds}")
    lines.append(tested_line(report))
    missing = [name for name, forms in report.unsupported.items() if not forms]
    if missing:
        lines.append(f"unsupported (not tested): {', '.join(missing)}")
    if report.causes:
        lines.append("")
        lines.append("diagnoses, by level (graphs per op):")
        for level, _, causes in report.ladder():
            for cause, by_op in causes:
                ops = ", ".join(f"{op}: {n} graph{'s' if n > 1 else ''}" for op, n in by_op.items())
                lines.append(f"  [{level}] {cause} ({ops})")
                for op in by_op:
                    reached = report.consequences.get((level, cause, op))
                    if reached:
                        where = ", ".join(f"{d} in {n} graph{'s' if n > 1 else ''}" for d, n in reached.items())
                        lines.append(f"      and where {op}'s wrong value reached {where}: "
                                     f"consequences, not counted as their own findings")
    shown = [f for f in report.findings if at_or_below(f.level, report.level)]
    if shown:
        lines.append("")
        lines.append(f"findings at level {report.level} or below ({len(shown)} shown of "
                     f"{report.failed} failing graphs), lowest level first:")
        for i, f in enumerate(shown):
            where = ("accumulation probe" if f.kind == "accumulation" else "edge sweep"
                     if f.index < 0 else f"graph {f.index}")
            lines.append(f"- [{f.level}] [{f.device}] {where}: {f.cause or f.kind} in {f.op} "
                         f"(node {f.node}, {len(f.graph.nodes)} nodes after shrinking): {printable(f.message)}")
            if i < show and f.reproducer:
                lines.append("  reproducer:")
                lines.extend("    " + line for line in f.reproducer.splitlines())
    return "\n".join(lines)
