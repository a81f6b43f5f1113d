"""The report as text: the ladder in one line, the per-op table, the diagnoses and findings."""

from __future__ import annotations

from conformance.levels import at_or_below
from conformance.report import Report


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


def op_status(report: Report, name: str) -> str:
    """ok, imprecise, fail or unsupported, at the report's level."""
    if name in report.unsupported and not report.unsupported[name]:
        return "unsupported"
    failing = {op for (level, _), by_op in report.causes.items() if at_or_below(level, report.level)
               for op in by_op}
    st = report.per_op.get(name)
    if name in failing:
        return "fail"
    return "imprecise" if st is not None and st.imprecise else "ok"


def format_report(report: Report, show: int) -> str:
    lines = [f"ladder: {ladder_line(report)}   (judged at --level {report.level})"]
    if report.precision != "float64":
        lines.append(f"the engine computes in {report.precision}: judged with {report.precision}'s "
                     f"rounding (values off by ~1e-8 relative are no failure; --strict holds it "
                     f"to float64)")
    lines.append(f"{'op':<12} {'cases':>8} {'passed':>8} {'failed':>7} {'imprecise':>9} {'worst ulps':>10}  status")
    extra = [name for name in report.per_op if name not in report.ops]
    for name in [*report.ops, *extra]:
        st = report.per_op.get(name)
        if st is None or st.cases == 0:
            lines.append(f"{name:<12} {0:>8} {0:>8} {0:>7} {0:>9} {'-':>10}  not reached")
            continue
        status = op_status(report, name)
        status = "FAIL" if status == "fail" else status
        forms = report.unsupported.get(name)
        if forms:
            status += f" (forms {','.join(forms)} unsupported)"
        lines.append(f"{name:<12} {st.cases:>8} {st.passed:>8} {st.failed:>7} {st.imprecise:>9} "
                     f"{st.worst_ulps:>10.0f}  {status}")
    if report.kinds:
        kinds = ", ".join(f"{k}: {n}" for k, n in sorted(report.kinds.items(), key=lambda kv: -kv[1]))
        lines.append(f"failing graphs by first finding: {kinds}")
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
    shown = [f for f in report.findings if at_or_below(f.level, report.level)]
    if shown:
        lines.append("")
        lines.append(f"findings at level {report.level} or below ({len(shown)} shown of "
                     f"{report.failed} failing graphs), lowest level first:")
        for i, f in enumerate(shown):
            where = "edge sweep" if f.index < 0 else f"graph {f.index}"
            lines.append(f"- [{f.level}] [{f.device}] {where}: {f.cause or f.kind} in {f.op} "
                         f"(node {f.node}, {len(f.graph.nodes)} nodes after shrinking): {f.message}")
            if i < show and f.reproducer:
                lines.append("  reproducer:")
                lines.extend("    " + line for line in f.reproducer.splitlines())
    return "\n".join(lines)
