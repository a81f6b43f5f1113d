"""The probe: which ops, operand forms and spellings an engine offers. Every spelling an op has in
the op table is tried (``abs(x)`` and ``x.abs()``); a form is supported when one of its spellings
is, and each decision is kept with a short reason (``--show-probe``).

Refused or crashed is decided by where an exception comes from, not by its type
(the ladder's "Refused or crashed"): an explicit ``raise``/``assert`` in the
engine's own source for every probe input is a refusal; a missing method, NotImplemented, or
Python refusing a node operand while another form of the op works is "not offered"; anything
else (``math.exp(self)``, ``other.data`` on a float, recursion) is a crash, kept for the campaign
to report. Engines in C: a ctypes ArgumentError (the declared argument types of a C function) is
a refusal; a C extension's TypeError with no Python frame is read as Python's own operand
refusals are (not offered only while another form works, else a crash), since nothing tells a
deliberate type check in C from an accident there.

It reads the adapter through its interface only (``leaf``, ``apply``, ``value``, ``backward``,
``offers``, and ``spellings``/``use`` where the adapter has several ways to apply an op)."""

from __future__ import annotations

import ast
import ctypes
import dis
import functools
import linecache
import operator
import os
import re
import sys
import sysconfig
from typing import Any, Callable, Mapping, NamedTuple, Sequence

from vetgrad.engine.ops import OPS, Op, public_ops

# Operand forms of an op: 'n' unary; 'nn' both nodes, 'nc' constant on the right, 'cn' on the left.
FORMS_BINARY = ("nn", "nc", "cn")
FORM_LEGEND = ("forms: n one operand (x.tanh(), abs(x)) · nn two Values (x * y) · nc a plain number "
               "on the right (x * 2) · cn a plain number on the left (2 * x)")
# Each form is tried on every case (operand i takes case[i]): a refusal is one the engine makes for
# all of them; one that only a negative operand meets is a domain restriction, not a refusal.
PROBE_CASES = ((0.7, 1.3), (1.3, 0.7), (-1.5, 1.3))
SUPPORTED, UNSUPPORTED = "supported", "unsupported"
# The probe log's first entry for a Value class whose nodes are spelled otherwise than
# micrograd's (``val``, ``back_prop()``): its ``why`` names them (NodeSpelling.said).
SPELLED = "spelled"


def operand_forms(op: Op) -> tuple[str, ...]:
    """The forms an op can take: a constant on the left needs an operator (``2 - x``); a method
    (``x.maximum(2)``) only takes it on the right."""
    if op.arity == 1:
        return ("n",)
    return FORMS_BINARY if op.dunder else ("nn", "nc")


def spellings(op: Op, form: str) -> tuple[str, ...]:
    """How a user can write ``op`` in ``form``: ``"operator"`` (``abs(x)``, ``x + y``, ``2 + x``)
    and/or ``"method"`` (``x.abs()``, ``x.maximum(2)``; never with a constant on the left)."""
    out = ["operator"] if op.dunder else []
    if op.method and form != "cn":
        out.append("method")
    return tuple(out)


def spelled_call(op: Op, spelling: str) -> Callable[..., Any]:
    """The op as a function of its operands and parameters, written with ``spelling``."""
    if spelling == "operator":
        return getattr(operator, op.dunder)  # type: ignore[arg-type,no-any-return]
    name = op.method

    def call(a: Any, *rest: Any) -> Any:
        return getattr(a, name)(*rest)  # type: ignore[arg-type]

    return call


def entry_point(op: Op, form: str, spelling: str) -> str:
    """The attribute a Value class needs for ``op`` in ``form`` written with ``spelling``."""
    if spelling == "operator":
        return f"__{'r' if form == 'cn' else ''}{op.dunder}__"
    return str(op.method)


def written(op: Op, form: str, spelling: str) -> str:
    """``abs(x)``, ``x.abs()``, ``2 + x``: the spelling as a user reads it."""
    names = iter(("x", "y"))
    args = [next(names) if f == "n" else "2" for f in form]
    params = [repr(p) for p in (op.sweep_params[0] if op.sweep_params else ())]  # type: ignore[index]
    if spelling == "method":
        return f"{args[0]}.{op.method}({', '.join(args[1:] + params)})"
    return op.spell(args, params)


class Decision(NamedTuple):
    """One probe decision: ``op`` in ``form`` written as ``spelling`` is supported or not, and why
    (``ok``; ``kept: it crashes (...)``; ``refused: ...``; ``not offered: ...``; ``no __abs__``)."""

    op: str
    form: str
    spelling: str
    decision: str
    why: str


# What one probe input of a form gave, and what a form's inputs give together.
OK, CRASH, RAISED, MISSING, OPERAND, SIGNATURE = "ok", "crash", "raised", "missing", "operand", "signature"
REFUSED = "refused"


class Outcome(NamedTuple):
    """One probe input's result: ``kind`` (OK, CRASH, RAISED: an explicit ``raise``/``assert`` of
    the engine, MISSING: no entry point or NotImplemented, OPERAND: Python (or a C function)
    refused a node operand, SIGNATURE: a ctypes argument type), the exception as
    ``Type: message``, the engine's line (``engine.py:42: raise ValueError(...)``) and the stage
    (``""`` the forward, ``"backward()"``)."""

    kind: str
    said: str = ""
    where: str = ""
    stage: str = ""

    def text(self) -> str:
        return self.said + (f" at {self.where}" if self.where else "")


def probe(adapter: Any) -> dict[str, tuple[str, ...]]:
    """Which forms of which ops the engine offers; the decisions go to ``adapter.probe_log``.
    Every form is tried on each of :data:`PROBE_CASES` (see :func:`classify` for how one
    exception is read, :func:`verdict` for how a form's inputs decide). A form is *not offered*
    when the engine lacks it (no entry point, NotImplemented) or when Python refuses a node
    operand inside it while another form of the op works; *refused* when every input meets the
    same explicit ``raise``/``assert`` of the engine; any other failure is a *crash* and the form
    is kept: the campaign reports it as the bug it is. The adapter is told (``use``) the first
    kept spelling of each form. An engine whose first leaf cannot be made or read offers nothing
    (one decision, op ``leaf``, says why: see :func:`nothing_to_check`)."""
    log: list[Decision] = []
    adapter.probe_log = log
    spelled = getattr(adapter, "node_spelling", None)
    if spelled is not None and spelled.said():  # (a Value class not spelled as micrograd's)
        log.append(Decision(SPELLED, "", "", "", spelled.said()))
    made = _leaf_call(adapter)
    try:
        adapter.value(adapter.leaf(PROBE_CASES[0][0]))
    except Exception as exc:
        out = classify(exc, None, adapter)
        log.append(Decision("leaf", "", made, UNSUPPORTED,
                            f"{made} raised {out.text()}: the harness makes every leaf as "
                            f"{made.replace('0.7', 'x')} with a float x (and reads its value), so "
                            f"nothing can be checked"))
        return {}
    supported: dict[str, tuple[str, ...]] = {}
    for op in public_ops():
        ok = _op(adapter, op, log)
        if ok:
            supported[op.name] = ok
    return supported


def _leaf_call(adapter: Any) -> str:
    cls = getattr(adapter, "cls", None)
    return f"{cls.__name__}({PROBE_CASES[0][0]})" if isinstance(cls, type) else \
        f"leaf({PROBE_CASES[0][0]})"


def _op(adapter: Any, op: Op, log: list[Decision]) -> tuple[str, ...]:
    """The forms of ``op`` offered; a form whose only failure is Python refusing a node operand
    is not offered when another form of the op works, and a crash when none does."""
    tried = {form: _spellings_tried(adapter, op, form) for form in operand_forms(op)}
    works = [form for form, rows in tried.items() if any(status == OK for _, status, _ in rows)]
    offered = []
    for form, rows in tried.items():
        chosen = None
        for spelling, status, why in rows:
            if status == OPERAND:
                others = [f for f in works if f != form]
                status, why = ((MISSING, f"not offered: Python refuses a node operand here "
                                         f"({why}) while form {', '.join(others)} works")
                               if others else (CRASH, f"kept: it crashes ({why})"))
            supported = status in (OK, CRASH)
            log.append(Decision(op.name, form, spelling, SUPPORTED if supported else UNSUPPORTED, why))
            if supported and chosen is None:
                chosen = spelling
        if rows and rows[0][0] != "apply":
            use(adapter, op, form, chosen or rows[0][0])
        if chosen is not None:
            offered.append(form)
    return tuple(offered)


def _spellings_tried(adapter: Any, op: Op, form: str) -> list[tuple[str, str, str]]:
    """(spelling, status, why) for each spelling of ``op`` in ``form``."""
    names = adapter.spellings(op, form) if hasattr(adapter, "spellings") else ("apply",)
    rows = []
    for spelling in names or ("apply",):
        use(adapter, op, form, spelling)
        if not adapter.offers(op, form):
            why = (f"no {entry_point(op, form, spelling)}" if spelling != "apply"
                   else "the adapter does not offer it")
            rows.append((spelling, MISSING, why))
            continue
        rows.append((spelling, *verdict(attempt(adapter, op, form))))
    return rows


def use(adapter: Any, op: Op, form: str, spelling: str) -> None:
    """Tell an adapter with several spellings which one to apply ``op`` in ``form`` with."""
    if spelling != "apply" and hasattr(adapter, "use"):
        adapter.use(op, form, spelling)


def decide(adapter: Any, op: Op, form: str) -> tuple[bool, str]:
    """(kept, why) for ``op`` in ``form`` as the adapter now applies it: True for a result and for
    a crash (a failure, not an absence), False when not offered or refused. A form whose only
    failure is Python refusing a node operand is False here (the probe decides it against the
    op's other forms)."""
    status, why = verdict(attempt(adapter, op, form))
    return status in (OK, CRASH), why


def attempt(adapter: Any, op: Op, form: str) -> list[Outcome]:
    """``op`` in ``form`` on each probe case (operand i takes case[i]: a leaf for a node operand,
    the number itself for a constant), forward then (for a differentiable op) backward()."""
    params = op.sweep_params[0]  # type: ignore[index]
    return [_attempt(adapter, op, form, case, params) for case in PROBE_CASES]


def _attempt(adapter: Any, op: Op, form: str, case: tuple[float, ...], params: Any) -> Outcome:
    nodes: set[str] = set()
    try:
        args = [adapter.leaf(x) if f == "n" else x for f, x in zip(form, case)]
        nodes = {type(a).__name__ for a, f in zip(args, form) if f == "n"}
        out = adapter.apply(op, args, params)
        adapter.value(out)
    except Exception as exc:
        return classify(exc, op, adapter, nodes=nodes)
    if op.differentiable:
        try:
            adapter.backward(out)
        except Exception as exc:
            return classify(exc, op, adapter, backward=True)._replace(stage="backward()")
    return Outcome(OK)


def verdict(outcomes: list[Outcome]) -> tuple[str, str]:
    """(status, why) of a form from its probe cases: OK when any input gives a result (inputs that
    raise are a domain restriction, judged at their level); REFUSED when every input meets an
    explicit raise or assert with the same message (numbers and addresses aside), or a ctypes
    argument-type error; MISSING when every input finds no entry point; OPERAND when every input
    is a node operand Python refuses (decided against the op's other forms); else CRASH."""
    bad = [o for o in outcomes if o.kind != OK]
    if not bad:
        return OK, "ok"
    if len(bad) < len(outcomes):
        inputs = [", ".join(map(repr, case)) for case, o in zip(PROBE_CASES, outcomes) if o.kind != OK]
        return OK, (f"ok (fails at ({'; '.join(inputs)}): {bad[0].text()}: a domain restriction, "
                    f"judged at those inputs' level)")
    first = bad[0]
    stage = f" in {first.stage}" if first.stage else ""
    kinds = {o.kind for o in bad}
    same = len({(o.stage, _plain(o.said)) for o in bad}) == 1
    if kinds == {MISSING}:
        return MISSING, f"not offered: {first.text()}"
    if kinds == {SIGNATURE} and same:
        return REFUSED, (f"refused{stage}: {first.said} (a C function's argument types"
                         + (f": {first.where})" if first.where else ")"))
    if kinds == {RAISED} and same:
        return REFUSED, f"refused{stage}: {first.said}" + (f" ({first.where})" if first.where else "")
    if kinds == {OPERAND} and not first.stage:
        return OPERAND, first.text()
    crash = next((o for o in bad if o.kind not in (RAISED, SIGNATURE)), first)
    whose = f"its {crash.stage}" if crash.stage else "it"
    return CRASH, f"kept: {whose} crashes ({crash.text()})"


def _plain(text: str) -> str:
    """A message with its numbers and addresses masked: the same refusal, whatever the input."""
    return re.sub(r"0x[0-9a-fA-F]+|[-+]?\d[\d.e+-]*", "#", text)


# Python's own refusals: an operator whose methods return NotImplemented (or are missing), and
# a call whose arguments do not fit a Python function's signature (the engine's bug, not a refusal).
_DISPATCH = re.compile(r"^(unsupported operand type\(s\)|bad operand type for )")
_SIGNATURE_BUG = re.compile(r"\(\) (missing \d+ required|takes (\d+|from|exactly|no) |"
                            r"got (an unexpected|multiple values))")


def classify(exc: BaseException, op: Op | None, adapter: Any, backward: bool = False,
             nodes: set[str] | frozenset[str] = frozenset()) -> Outcome:
    """What one exception of the engine says, from where it comes, not its type. The innermost
    traceback frame in the engine's files (see :func:`engine_frame`):

    - its instruction is a ``raise`` (an ``assert`` compiles to one): RAISED, quoting the line;
    - an AttributeError naming the op's own entry point: MISSING;
    - a TypeError that names a node's class as an operand (Python refusing a Value inside the
      method: ``'float' and 'Value'``, ``not Value``): OPERAND;
    - anything else: CRASH (``math.exp(self)``, ``other.data`` on a float, recursion, ...).

    A ctypes ArgumentError (a C function's declared argument types) is SIGNATURE wherever the
    engine made the call. With no Python frame of the engine: Python's operator dispatch
    (``unsupported operand type(s)``: NotImplemented) or an AttributeError for the op's entry
    point is MISSING; a NotImplementedError is RAISED (a C extension's or an adapter's explicit refusal); a call
    that does not fit a Python function's signature is a CRASH; any other TypeError (a C
    extension refusing an operand type) is OPERAND, so not offered only when another form of the
    op works, as for Python's own operand refusals; everything else is a CRASH."""
    said = _said(exc)
    tb = engine_frame(exc.__traceback__, adapter)
    entry = op is not None and not backward and _names_entry_point(exc, op)
    if isinstance(exc, ctypes.ArgumentError):  # from a C function, wherever the engine called it
        return Outcome(SIGNATURE, said, quote(tb) if tb is not None else "")
    if tb is not None:
        where = quote(tb)
        if _raises_here(tb):
            return Outcome(RAISED, said, where)
        if entry:
            return Outcome(MISSING, f"{said} (no entry point for the op)", where)
        if isinstance(exc, TypeError) and not backward and _names_node(exc, adapter, nodes):
            return Outcome(OPERAND, said, where)
        return Outcome(CRASH, said, where)
    if isinstance(exc, NotImplementedError):
        return Outcome(RAISED, said)
    if isinstance(exc, TypeError) and _DISPATCH.match(str(exc)) and not backward:
        return Outcome(MISSING, f"{said} (Python's operator dispatch: NotImplemented or no method)")
    if entry:
        return Outcome(MISSING, f"{said} (no entry point for the op)")
    if isinstance(exc, TypeError) and not backward and not _SIGNATURE_BUG.search(str(exc)):
        return Outcome(OPERAND, f"{said} (no Python frame of the engine: a C function?)")
    return Outcome(CRASH, said)


def _names_entry_point(exc: BaseException, op: Op) -> bool:
    if not isinstance(exc, AttributeError):
        return False
    names = {op.name, op.method, f"__{op.dunder}__", f"__r{op.dunder}__"} - {None, "__None__"}
    return getattr(exc, "name", None) in names or any(f"'{n}'" in str(exc) for n in names)


def _names_node(exc: BaseException, adapter: Any, nodes: set[str] | frozenset[str]) -> bool:
    """Whether a TypeError's message names the engine's node class (``nodes``: the classes of
    the operands given) as an operand type."""
    cls = getattr(adapter, "cls", None)
    names = set(nodes) | ({cls.__name__} if isinstance(cls, type) else set())
    text = str(exc)
    return any(f"'{n}'" in text or f"not {n}" in text for n in names)


_HARNESS = os.path.dirname(os.path.abspath(__file__))
_STDLIB = tuple({os.path.dirname(os.path.abspath(os.__file__)), sysconfig.get_paths()["stdlib"]})


def engine_frame(tb: Any, adapter: Any) -> Any:
    """The innermost traceback entry in the engine's own code: not the harness's (conformance/,
    except the files of the adapter's own classes, e.g. conformance/subject/adapters_compiled.py), not
    the standard library's (site-packages is the engine's: a pip-installed engine lives there).
    None when the engine has no Python frame in it (a C function, Python's operator dispatch)."""
    own = _adapter_files(adapter)
    found = None
    while tb is not None:
        if _engines(tb.tb_frame.f_code.co_filename, own):
            found = tb
        tb = tb.tb_next
    return found


def _adapter_files(adapter: Any) -> set[str]:
    files = set()
    for klass in type(adapter).__mro__:
        if klass.__module__ in ("builtins", "vetgrad.conformance.subject.adapters", "vetgrad.conformance.subject.probe"):
            continue
        file = getattr(sys.modules.get(klass.__module__), "__file__", None)
        if file:
            files.add(os.path.abspath(file))
    return files


def _engines(filename: str, own: set[str]) -> bool:
    if filename.startswith("<frozen ") or filename in ("<string>",):
        return False
    if filename.startswith("<"):
        return True  # a module made from source text (an engine given by path, a test's variant)
    path = os.path.abspath(filename)
    if path in own:
        return True
    if path.startswith(_HARNESS + os.sep):
        return False
    parts = path.split(os.sep)
    return not (path.startswith(_STDLIB) and "site-packages" not in parts and "dist-packages" not in parts)


def _raises_here(tb: Any) -> bool:
    """Whether the frame's current instruction is a ``raise`` (an ``assert`` compiles to one);
    where the bytecode cannot be read, whether the statement on its line is ``raise``/``assert``."""
    code = tb.tb_frame.f_code
    op = _opcodes(code).get(tb.tb_lasti)
    if op is not None:
        return op == "RAISE_VARARGS"
    line = _line(tb).strip()
    try:
        stmt = ast.parse(line).body
    except SyntaxError:
        return False
    return bool(stmt) and isinstance(stmt[0], (ast.Raise, ast.Assert))


@functools.lru_cache(maxsize=512)
def _opcodes(code: Any) -> dict[int, str]:
    return {ins.offset: ins.opname for ins in dis.get_instructions(code)}


def _line(tb: Any) -> str:
    """The source line of a traceback entry: linecache (files, and the modules the engine's
    process made from source text), else the module's ``__vetgrad_source__`` (the tests' engines)."""
    frame = tb.tb_frame
    line = linecache.getline(frame.f_code.co_filename, tb.tb_lineno, frame.f_globals)
    if not line:
        source = frame.f_globals.get("__vetgrad_source__")
        lines = source.splitlines() if isinstance(source, str) else []
        line = lines[tb.tb_lineno - 1] if 0 < tb.tb_lineno <= len(lines) else ""
    return line


def quote(tb: Any) -> str:
    """``engine.py:42: raise ValueError(...)``: the file (the module's own file for one made
    from source text), the line number and the line, shortened."""
    frame = tb.tb_frame
    file = frame.f_code.co_filename
    if file.startswith("<"):
        file = str(frame.f_globals.get("__file__") or file)
    text = " ".join(_line(tb).split())
    text = text if len(text) <= 80 else text[:77] + "..."
    return f"{os.path.basename(file)}:{tb.tb_lineno}" + (f": {text}" if text else "")


def nothing_to_check(wanted: Sequence[str], forms: Mapping[str, Sequence[str]],
                     asked: Sequence[str] | None, log: Sequence[Sequence[str]] = ()) -> str | None:
    """Why a campaign over ``wanted`` with the probe's ``forms`` would check nothing that was
    asked (None: it checks something): the first leaf cannot be made (the probe's ``leaf``
    decision in ``log``); no op wanted is offered; or an op ``asked`` for by name (``--ops``)
    is not offered. ``log``: the probe's decisions (op, form, spelling, decision, why)."""
    for d in log:
        if d[0] == "leaf":
            return str(d[4])
    lacking = [name for name in wanted if name not in forms]
    offered = [name for name in forms]
    has = f"it offers {', '.join(offered)}" if offered else "it offers no op"
    if asked is not None and lacking:
        said = ("neither" if len(lacking) == len(asked) == 2 else
                "none of them" if len(lacking) == len(asked) > 2 else None)
        said = f"offers {said}" if said else f"does not offer {', '.join(lacking)}"
        return f"--ops {','.join(asked)}: the engine {said} ({_reasons(lacking, log)}); {has}"
    if not any(name in forms for name in wanted):
        return (f"the engine offers none of the ops the harness tests: every form is missing or "
                f"refused ({_reasons(lacking, log)})")
    return None


def _reasons(ops: Sequence[str], log: Sequence[Sequence[str]], most: int = 4) -> str:
    """Why each op is not offered, from the probe's decisions (the first refusal, else the first
    reason given), for the first ``most`` ops."""
    out = []
    for name in ops[:most]:
        whys = [str(d[4]) for d in log if d[0] == name]
        why = next((w for w in whys if w.startswith("refused")), None) or \
            next((w for w in whys if w.startswith("not offered")), None) or \
            (whys[0] if whys else "not offered")
        out.append(f"{name}: {why}")
    if len(ops) > most:
        out.append(f"and {len(ops) - most} more")
    return "; ".join(out)


def _said(exc: BaseException) -> str:
    try:
        text = str(exc)
    except Exception as inner:  # an engine's exception that cannot say itself
        text = f"<str() of this {type(exc).__name__} raised {type(inner).__name__}>"
    text = text if len(text) <= 120 else text[:117] + "..."
    return f"{type(exc).__name__}{': ' + text if text else ''}"


def format_probe(log: list[Decision]) -> str:
    """The probe's decisions, one line per op, form and spelling."""
    lines = [f"  {FORM_LEGEND}"]
    for op, form, spelling, decision, why in log:
        if op == SPELLED:  # what the class calls a node's parts, before the decisions
            lines.insert(0, f"  spelled: {why}")
            continue
        if op not in OPS:  # the first leaf: nothing else was tried
            lines.append(f"  {op:<11} {spelling:<24} {decision:<12} {why}")
            continue
        shown = written(OPS[op], form, spelling) if spelling != "apply" else f"{op} ({form})"
        lines.append(f"  {op:<11} {form:<3} {shown:<20} {decision:<12} {why}")
    return "\n".join(lines)
