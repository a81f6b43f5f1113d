"""A finding as a standalone script: it builds the graph in the engine and in torch, prints both
(an engine that raises is shown raising, and torch still runs), marks the numbers that differ and
exits 1 while any does. The script's check is also a function of the harness
(:func:`script_marks`, on the engine's run in its process): the shrinker keeps only graphs whose
script shows the finding (:func:`shows`), and the script itself is run once before it is reported
(conformance.reporting.reproducer_run)."""

from __future__ import annotations

import math
from typing import Any

from vetgrad._extras import install_hint
from vetgrad.conformance.dags.graph import Const, Graph, Node, expression
from vetgrad.conformance.judging.levels import TORCH
from vetgrad.conformance.judging.results import Finding
from vetgrad.conformance.subject.adapters import Adapter
from vetgrad.conformance.subject.address import EngineRef, as_ref
from vetgrad.conformance.subject.execute import EngineRun
from vetgrad.engine.ops import INFIX, OPS


def _torch_expr(node: Node, names: dict[int, str]) -> str:
    """The torch expression a user would write for ``node``, as its row says torch computes it."""
    op = OPS[node.op]
    args = []
    for a in node.args:
        args.append(f"torch.tensor({a.value!r}, dtype=torch.float64)" if isinstance(a, Const) else names[a])
    if op.scalar_form is not None and isinstance(node.args[1], Const):  # x ** 2.0: pow(Tensor, Scalar)
        args[1] = repr(node.args[1].value)
        op = OPS[op.scalar_form]
    if op.torch_reflected is not None and isinstance(node.args[0], Const):  # torch's 2.0 / tensor
        return f"{node.args[0].value!r} {INFIX[op.dunder]} {args[1]}"  # type: ignore[index]
    return f"{op.torch_name}({', '.join(args + [repr(p) for p in node.params])})"


_COMPARE = '''
def same(a, b):
    """Equal as the harness judges: the same class (nan is nan; inf of a sign; a zero of a sign,
    where the finding's level is torch, whose convention the sign of a zero is) and within 4 ulps
    or 1e-12 relative."""
    a, b = float(a), float(b)
    if a != a or b != b:
        return a != a and b != b
    if a == b:
        return a != 0.0 or not SIGNED_ZEROS or math.copysign(1.0, a) == math.copysign(1.0, b)
    if not (math.isfinite(a) and math.isfinite(b)):
        return False
    return abs(a - b) <= max(4 * math.ulp(max(abs(a), abs(b))), 1e-12 * max(abs(a), abs(b)))


def mark(what, engine, reference, say=print):
    """Say each number of ``engine`` that differs from torch's (marked); the differences."""
    found = []
    for i, (e, t) in enumerate(zip(engine, reference)):
        try:
            ok = same(e, 0.0 if t is None else t)
        except (TypeError, ValueError):
            ok = False
        if not ok:
            found.append(f"{what} of x{i}: engine {e!r}, torch {t!r}")
            say(f"  {found[-1]}  <-- differs")
    return found
'''

_CHECK = '''
def check(say=print):
    """Build the graph in torch and in the engine and compare them: the differences (each said)."""
    found = []
    ts = build_torch()
    tv = [t.item() for t in ts]
    say('values torch :', tv)
    try:
        xs = build_engine()
        ev = [value(x) for x in xs]
        say('values engine:', ev)
        found += mark('value', ev, tv, say)
    except Exception as exc:
        xs = None
        found.append(f'the engine raised while building: {exc!r}')
        say('engine raised while building:', repr(exc))
    for n in range(PASSES):  # backward() calls (a second one must add the same again)
        tg = None
        try:
            ts[-1].backward(retain_graph=True)
            tg = [None if t.grad is None else t.grad.item() for t in ts]
            say('grads  torch :', tg)
        except RuntimeError as exc:
            say('torch backward raised:', exc)
        if xs is None:
            continue
        try:
            backward(xs[-1])
            eg = [grad(x) for x in xs]
            say('grads  engine:', eg)
            if tg is None:
                found.append('the engine backward() returned where torch raises')
                say(f'  {found[-1]}  <-- differs')
            else:
                found += mark('grad', eg, tg, say)
        except Exception as exc:
            say('engine backward raised:', repr(exc))
            if tg is not None:
                found.append(f'the engine backward() raised {exc!r}')
    return found


differing = 0
for run in range(RUNS):
    found = check(print if run == 0 else (lambda *args: None))
    if found and run > 0:
        print(f'run {run + 1}: ' + '; '.join(found))
    differing += bool(found)
if RUNS > 1:
    print(f'{differing} of {RUNS} runs differ from torch')
print('the engine differs from torch' if differing else 'the engine agrees with torch')
sys.exit(1 if differing else 0)
'''


# How an Adapter's reproducer gets vetgrad's op table (what ``A.apply`` takes): from the installed
# vetgrad, whose parts all live under ``vetgrad`` (a learner's engine.py beside the script is the
# adapter's own ``import engine``).
_VETGRAD_OPS = f'''
try:
    from vetgrad.engine.ops import OPS  # vetgrad's op table (a learner's engine.py is another module)
except ImportError:
    print("this reproducer needs vetgrad, which is not installed:",
          {install_hint()!r}, file=sys.stderr)
    sys.exit(2)
'''


def _engine_header(ref: EngineRef) -> list[str]:
    """How the script gets the engine, and how it reads values and grads and runs backward (a
    Value class: with the names it spells them with, ``ref.spelling``)."""
    module, _, attr = ref.target.partition(":")
    name = "A" if ref.kind == "adapter" else "V"
    if ref.file:  # given by path: loaded from that file under its own name, as the harness did
        get = ["import importlib.util",
               f"spec = importlib.util.spec_from_file_location({module!r}, {ref.file!r})",
               "sys.modules[spec.name] = module = importlib.util.module_from_spec(spec)",
               "spec.loader.exec_module(module)",
               f"{name} = module.{attr}{'()' if ref.kind == 'adapter' else ''}"]
    elif module == "__main__" or "<" in attr:
        get = [f"# the engine's {attr} was defined where no import finds it ({module}): define or",
               f"# import it here{' and make one' if ref.kind == 'adapter' else ''}", f"{name} = None"]
    else:
        get = [f"# the engine's module {module!r} was made from source text in the harness: save "
               f"that source as {module}.py beside this script"] if ref.source else []
        if ref.kind == "adapter":
            get += [f"from {module} import {attr.split('.')[0]}", f"A = {attr}()"]
        else:
            get += [f"from {module} import {attr.split('.')[0]} as V" if attr.count(".") == 0 else
                    f"from {module} import {attr.split('.')[0]}\nV = {attr}"]
    if ref.kind == "adapter":
        ops = [*_VETGRAD_OPS.strip("\n").splitlines(), "", ""]  # before the adapter imports Adapter
        reads = ["value, grad, backward = "
                 "(lambda x: A.value(x)), (lambda x: A.grad(x)), (lambda x: A.backward(x))"]
        return [*ops, *get, *reads]
    spelled = ref.spelling  # the class's own names (.val, .back_prop()): the script must run
    reads = [f"value, grad, backward = (lambda x: x.{spelled.value}), (lambda x: x.grad), "
             f"(lambda x: x.{spelled.backward}())"]
    return [*get, *reads]


def _engine_line(ref: EngineRef, graph: Graph, i: int, names: dict[int, str],
                 methods: set[tuple[str, str]]) -> str:
    node = graph.nodes[i]
    if ref.kind != "adapter":
        if node.op == "leaf":
            return f"x{i} = V({node.value!r})"
        return f"x{i} = {expression(graph, i, names, (node.op, node.form) in methods)}"
    if node.op == "leaf":
        return f"x{i} = A.leaf({node.value!r})"
    args = ", ".join(f"{a.value!r}" if isinstance(a, Const) else names[a] for a in node.args)
    return f"x{i} = A.apply(OPS[{node.op!r}], [{args}], {tuple(node.params)!r})"


def spellings_of(engine: Any, graph: Graph) -> dict[tuple[str, str], str]:
    """The spelling (``operator``, ``method``) ``engine`` (a session or an Adapter) applies each op
    and operand form of ``graph`` with: what its reproducer must write (``x.abs()`` for an engine
    that has no ``abs(x)``)."""
    pairs = sorted({(n.op, n.form) for n in graph.nodes if n.op != "leaf"})
    if hasattr(engine, "spellings") and not isinstance(engine, Adapter):
        chosen = engine.spellings(pairs)
    elif hasattr(engine, "spelling"):
        chosen = [engine.spelling(OPS[op], form) for op, form in pairs]
    else:
        return {}
    return {pair: s for pair, s in zip(pairs, chosen) if s is not None}


RUNS = 20  # runs of the graph in one script, for a finding whose verdict changed between runs

_SAYS = {
    "nondeterministic": "the campaign saw this graph fail in some runs and not in others: this script "
                        "builds and checks it {runs} times in one process and exits 1 if any run differs",
    "stateful": "the campaign saw this graph fail only after other graphs ran in the same process: "
                "this script builds and checks it {runs} times in one process (the first runs a "
                "warm-up for the next) and exits 1 if any run differs",
}


def passes_of(finding: Finding) -> int:
    """backward() calls the finding's reproducer makes (2: a second one must add the same again)."""
    return 2 if finding.kind == "repeat-backward" else 1


def runs_of(finding: Finding) -> int:
    """Runs of the graph the finding's reproducer makes in one process."""
    return RUNS if finding.kind in _SAYS else 1


def reproducer(finding: Finding, engine: EngineRef | str,
               spellings: dict[tuple[str, str], str] | None = None, note: str = "") -> str:
    """A standalone script: builds the graph in the engine (a Value class by its operators or
    methods, as ``spellings`` says the engine takes each op and form; an Adapter by
    ``leaf``/``apply``) and in torch, prints both, marks each value or grad of the engine that
    differs from torch's, and exits 1 while any differs (or the engine raises where torch does
    not, or returns where torch raises), 0 otherwise. The sign of a zero counts where the
    finding's level is ``torch``. A ``nondeterministic`` or ``stateful`` finding's script runs the
    graph RUNS times and exits 1 if any run differs. ``note``: a comment line for its head.
    ``engine`` is ``module:attr`` of a Value class or an EngineRef."""
    ref = as_ref(engine)
    methods = {pair for pair, s in (spellings or {}).items() if s == "method"}
    graph = finding.graph
    runs = runs_of(finding)
    xs = ", ".join(f"x{i}" for i in range(len(graph.nodes)))
    ts = ", ".join(f"t{i}" for i in range(len(graph.nodes)))
    names = {i: f"x{i}" for i in range(len(graph.nodes))}
    tnames = {i: f"t{i}" for i in range(len(graph.nodes))}
    engine_lines, torch_lines = [], []
    for i, node in enumerate(graph.nodes):
        engine_lines.append("    " + _engine_line(ref, graph, i, names, methods))
        if node.op == "leaf":
            torch_lines.append(f"    t{i} = T({node.value!r})")
        else:
            torch_lines.append(f"    t{i} = {_torch_expr(node, tnames)}; t{i}.retain_grad()")
    says = _SAYS.get(finding.kind, "").format(runs=runs)
    lines = [
        f"# vetgrad conformance reproducer: {finding.kind} mismatch in {finding.op!r} at node {finding.node}",
        *(f"# {line}" for line in finding.message.splitlines() or [""]),
        *([f"# {says}"] if says else []),
        *([f"# {note}"] if note else []),
        "# exits 1 while the engine differs from torch (each differing number marked), 0 once it agrees",
        "import math",
        "import sys",
        "",
        "import torch",
        "",
        *_engine_header(ref),
        "inf, nan = float('inf'), float('nan')",
        f"SIGNED_ZEROS = {finding.level == TORCH}  # the sign of a zero is torch's convention: "
        f"it counts at level torch (this finding's: {finding.level})",
        f"PASSES = {passes_of(finding)}  # backward() calls",
        f"RUNS = {runs}  # builds and checks of the graph",
        "T = lambda x: torch.tensor(x, dtype=torch.float64, requires_grad=True)",
        "",
        "",
        "def build_engine():",
        *engine_lines,
        f"    return [{xs}]",
        "",
        "",
        "def build_torch():",
        *torch_lines,
        f"    return [{ts}]",
        "",
        *_COMPARE.splitlines(),
        "",
        *_CHECK.splitlines(),
    ]
    return "\n".join(lines) + "\n"


def _same(signed_zeros: bool) -> Any:
    """The script's own ``same`` (exec'd from its text)."""
    namespace: dict[str, Any] = {"math": math, "SIGNED_ZEROS": signed_zeros}
    exec(_COMPARE, namespace)
    return namespace["same"]


_SAME = {signed: _same(signed) for signed in (False, True)}

# What script_marks returns: (what, node, pass) with what one of "value", "grad", "raised" (the
# engine raised building node), "backward raised", "returned" (backward returned where torch
# raises); pass 0 for the build and the first backward(), 1 for a second.
Mark = tuple[str, int, int]


def script_marks(graph: Graph, run: EngineRun, ref: Any, level: str, passes: int = 1) -> list[Mark]:
    """What the reproducer of a finding at ``level`` on ``graph`` marks as differing, computed
    from the engine's ``run`` of the graph (conformance.subject.execute) and torch's ``ref``
    (conformance.reference.torch_run.run_graph) as the script computes it from its own runs."""
    same = _SAME[level == TORCH]

    def differs(e: Any, t: Any) -> bool:
        try:
            return not same(e, 0.0 if t is None else t)
        except (TypeError, ValueError):
            return True

    if run.crash is not None:
        return [("raised", run.crash[0], 0)]
    root = len(graph.nodes) - 1
    marks = [("value", i, 0) for i, (e, t) in enumerate(zip(run.values, ref.values)) if differs(e, t)]
    for n in range(passes):
        if n == 0:
            grads, raised = run.grads, run.backward_error is not None
        else:
            grads = run.repeat_grads
            raised = grads is None  # a second backward raised (or the first did: so would it)
        torch = None if ref.grads is None else [(n + 1) * g for g in ref.grads]
        if raised:
            if torch is not None:
                marks.append(("backward raised", root, n))
        elif torch is None:
            marks.append(("returned", root, n))
        else:
            marks += [("grad", i, n) for i, (e, t) in enumerate(zip(grads or [], torch)) if differs(e, t)]
    return marks


def shows(finding: Finding, marks: list[Mark], graph: Graph | None = None) -> bool:
    """Whether a reproducer whose check marks ``marks`` shows ``finding`` (on ``graph``, by
    default its own): the difference it names, not merely some difference. A wrong value of a
    node: that node's value; a wrong local derivative: a gradient of one of its operands (so
    ``x - x`` where two wrong derivatives cancel does not show it); a wrong end-to-end gradient:
    that node's gradient; a second backward(): a difference after it; an exception: the engine
    raising; a gradient where torch raises: that."""
    graph = graph or finding.graph
    kind, node = finding.kind, finding.node
    if kind == "crash":
        return any(what in ("raised", "backward raised") for what, _, _ in marks)
    if kind == "raises":
        return any(what == "returned" for what, _, _ in marks)
    if kind == "end-to-end":
        return ("grad", node, 0) in marks
    if kind == "repeat-backward":
        return any(n == 1 for _, _, n in marks)
    if kind in ("local-value", "value"):
        return ("value", node, 0) in marks
    if kind in ("local-grad", "grad") and 0 <= node < len(graph.nodes):
        operands = {a for a in graph.nodes[node].args if isinstance(a, int)}
        return any(what == "grad" and i in operands and n == 0 for what, i, n in marks)
    return bool(marks)
