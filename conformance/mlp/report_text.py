"""An MLP check's report as text: what was detected of each model, the training run step by
step beside torch's, the ladder line, the findings with their reproducers, the closing line."""

from __future__ import annotations

from vetgrad.conformance.mlp.findings import MlpReport


def _rel(x: float | None) -> str:
    return "—" if x is None else f"{x:.1g}"


def ladder(report: MlpReport) -> str:
    """``math ✔`` or ``math ✘ forward, training (gradients never reset)``: every finding of an MLP
    check is at the math level (the levels above add nothing to it)."""
    parts = []
    for level, reached, causes in report.ladder():
        if reached and not causes:
            parts.append(f"{level} ✔")
            continue
        checks = list(dict.fromkeys(op for _, by in causes for op in by))
        parts.append(f"{level} {'✔' if reached else '✘'}"
                     + (f" {', '.join(checks)} ({causes[0][0]})" if causes else ""))
    return " · ".join(parts)


def training_table(report: MlpReport) -> list[str]:
    t = report.training
    if not t or not t.get("torch_losses"):
        return []
    lr = t.get("lr")
    lines = [f"training: {report.step}, {t['steps']} steps of {t['shape']}, lr read from step 1: "
             f"{lr:.6g}" if lr is not None else f"training: {report.step}",
             f"  {'step':>4}  {'loss (yours)':>14}  {'loss (torch SGD)':>16}"]
    for k, (mine, ref) in enumerate(zip(t["losses"], t["torch_losses"]), 1):
        shown = "—" if mine is None else f"{mine:.10g}"
        lines.append(f"  {k:>4}  {shown:>14}  {ref:>16.10g}")
    return lines


def format_report(report: MlpReport, show: int = 3) -> str:
    lines = [f"ladder: {ladder(report)}"]
    for d in report.detected:
        if d.layout:
            lines.append(f"{d.shape}: {d.layout} · {d.parameters} parameters · worst relative "
                         f"difference from torch: forward {_rel(d.forward)}, gradients {_rel(d.gradients)}")
        else:
            lines.append(f"{d.shape}: not matched to a torch network (see the findings)")
    lines.extend(training_table(report))
    if report.findings:
        lines.append("")
        lines.append(f"findings ({len(report.findings)}), first difference of each model or run:")
        for i, f in enumerate(report.findings):
            step = f", step {f.node}" if f.op == "training" and f.node else ""
            lines.append(f"- [{f.level}] {getattr(f, 'shape', '')} {f.op}{step}: {f.message}")
            if i < show and f.reproducer:
                lines.append("  reproducer (save as reproducer.py, python3 reproducer.py; exits 1 "
                             "while it differs):")
                lines.extend("    " + line for line in f.reproducer.splitlines())
    return "\n".join(lines)


def summary(report: MlpReport) -> str:
    return f"{report.passed} passed, {report.failed} failed"
