"""Judging one op alone on the engine's own inputs against torch (and, where they differ, the
exact mpmath reference): its value and each local derivative; ``x op x`` with one leaf as both
operands. A verdict is ``(kind, message)`` of a finding, or None; cases are counted per op."""

from __future__ import annotations

import math
from typing import Any

from vetgrad.conformance.dags.graph import Const, Node
from vetgrad.conformance.judging import number as J  # noqa: N812 - short name for verdict constants
from vetgrad.conformance.judging.numerics import versus
from vetgrad.conformance.judging.results import OpStats
from vetgrad.conformance.reference.exact import exact_derivatives, exact_value
from vetgrad.conformance.reference.torch_run import ALIASED, LocalCase, run_scalar
from vetgrad.conformance.subject.execute import CRASH
from vetgrad.engine.ops import OPS


def judge_aliased(node: Node, x: float, mine: tuple, theirs: tuple, stats: dict[str, OpStats],
                  device: str, strict: bool) -> tuple[str, str] | None:
    """``x op x`` with one leaf: value, and the sum of both contributions to the leaf."""
    crashed = _raised_alone(node, (x, x), mine, theirs, stats)
    if crashed is not None:
        return crashed
    value, grads, error = mine
    t_value, t_grads = theirs
    if _disagrees(value, grads, t_value, t_grads):  # ask torch's 0-d kernels, as judge_local
        t_value, t_grads = run_scalar(LocalCase(OPS[node.op], ALIASED, (x,), node.params), device)
    st = stats.setdefault(node.op, OpStats())
    name, params = node.op, node.params
    call = f"{node.op}(x, x) with x = {x!r} (one node as both operands)"
    verdict, ulps = J.judge(value, t_value, lambda: exact_value(name, (x, x), params), strict)
    st.add(verdict, ulps, value, t_value)
    if verdict == J.FAIL:
        return "local-value", f"{call} = {versus(value, t_value)}"
    if not OPS[node.op].differentiable:
        return None
    if grads is None:
        st.add(J.FAIL, math.inf)
        return "crash", f"backward of {call} raised {error}; torch returns {t_grads!r}"

    def total() -> Any:
        parts = exact_derivatives(name, (x, x), value, params)
        return None if not parts else (parts[0][0] + parts[1][0], parts[0][1] + parts[1][1])

    verdict, ulps = J.judge(grads[0], t_grads[0], total, strict)
    if verdict == J.FAIL and _cancels(grads[0], total()):
        verdict = J.IMPRECISE  # d(x / x)/dx: two contributions cancel to an exact 0 or so
    st.add(verdict, ulps, grads[0], t_grads[0])
    if verdict == J.FAIL:
        return "local-grad", f"d/dx of {call} = {versus(grads[0], t_grads[0])}"
    return None


def judge_local(node: Node, inputs: tuple[float, ...], mine: tuple, theirs: tuple,
                stats: dict[str, OpStats], local_derivs: dict[int, tuple[float, ...]], i: int,
                device: str, strict: bool) -> tuple[str, str] | None:
    """Judge node ``i`` on the engine's own inputs; its derivatives go to ``local_derivs`` (for
    the replay oracle). Where torch's operator and torch's function differ and both are sound
    (``c / x``), an engine may follow either."""
    if _bit_identical(node, mine, theirs, stats, local_derivs, i):
        return None
    crashed = _raised_alone(node, inputs, mine, theirs, stats)
    if crashed is not None:
        return crashed
    scratch: dict[str, OpStats] = {}
    found = _judge_against(node, inputs, mine, theirs, scratch, local_derivs, i, device, strict, True)
    # where torch's reflected operator (``c / x``: reciprocal(x) * c) and its function round and
    # overflow differently (1e-20 / 5e-324: inf or 2e303), both sound, an engine may follow either
    if found is not None and node.form == "cn" and OPS[node.op].either_reference:
        alternative = run_scalar(LocalCase(OPS[node.op], node.form, inputs, node.params),
                                 device, operator=False)
        alt_scratch: dict[str, OpStats] = {}
        if _bit_identical(node, mine, alternative, alt_scratch, local_derivs, i) or _judge_against(
                node, inputs, mine, alternative, alt_scratch, local_derivs, i, device, strict, False) is None:
            found, scratch = None, alt_scratch
    for name, st in scratch.items():
        stats.setdefault(name, OpStats()).merge(st)
    return found


def _judge_against(node: Node, inputs: tuple[float, ...], mine: tuple, theirs: tuple,
                   stats: dict[str, OpStats], local_derivs: dict[int, tuple[float, ...]], i: int,
                   device: str, strict: bool, operator: bool) -> tuple[str, str] | None:
    value, grads, error = mine
    t_value, t_grads = theirs
    if _disagrees(value, grads, t_value, t_grads):
        t_value, t_grads = run_scalar(LocalCase(OPS[node.op], node.form, inputs, node.params),
                                      device, operator=operator)
    st = stats.setdefault(node.op, OpStats())
    name, ref_inputs, params = _ref_name(node), _ref_inputs(node, inputs), _ref_params(node)
    verdict, ulps = J.judge(value, t_value, lambda: _narrow(exact_value(name, ref_inputs, params),
                                                            inputs), strict)
    st.add(verdict, ulps, value, t_value)
    if verdict == J.FAIL:
        return "local-value", f"{_call(node, inputs)} = {versus(value, t_value)}"
    if not OPS[node.op].differentiable:
        if error is None:
            st.add(J.FAIL, math.inf)
            return "raises", f"backward through {node.op} returned gradients; torch raises"
        return None
    if grads is None:
        st.add(J.FAIL, math.inf)
        return "crash", f"backward of {_call(node, inputs)} raised {error}; torch returns {t_grads!r}"
    local_derivs[i] = grads
    exact: list[Any] = []

    def reference(pos: int) -> Any:
        if not exact:
            exact.append(exact_derivatives(name, ref_inputs, value, params))
        return exact[0][pos] if exact[0] else None

    for pos, (g, tg) in enumerate(zip(grads, t_grads)):
        if isinstance(node.args[pos], Const):
            continue
        verdict, ulps = J.judge(g, tg, lambda pos=pos: reference(pos), strict)
        st.add(verdict, ulps, g, tg)
        if verdict == J.FAIL:
            return "local-grad", f"d/d(arg {pos}) of {_call(node, inputs)} = {versus(g, tg)}"
    return None


def _raised_alone(node: Node, inputs: tuple[float, ...], mine: tuple, theirs: tuple,
                  stats: dict[str, OpStats]) -> tuple[str, str] | None:
    """A crash verdict when the op itself raised run alone on fresh leaves (a value of nan
    stands in for it): the exception is the finding, not that nan."""
    error = mine[2]
    if error is None or not error.startswith(CRASH):
        return None
    stats.setdefault(node.op, OpStats()).add(J.FAIL, math.inf)
    return "crash", (f"{_call(node, inputs)} raised {error[len(CRASH):]} when run alone on fresh "
                     f"leaves; torch returns {theirs[0]!r}")


def _bit_identical(node: Node, mine: tuple, theirs: tuple, stats: dict[str, OpStats],
                   local_derivs: dict[int, tuple[float, ...]], i: int) -> bool:
    """The common case, counted as passed at once: value and derivatives bit-identical to torch's."""
    value, grads, _ = mine
    t_value, t_grads = theirs
    identical = J.identical
    if grads is None or not identical(value, t_value):
        return False
    for g, t in zip(grads, t_grads):
        if not identical(g, t):
            return False
    st = stats.get(node.op)
    if st is None:
        st = stats[node.op] = OpStats()
    checked = 1 + node.form.count("n")
    st.cases += checked
    st.passed += checked
    local_derivs[i] = grads
    return True


def _narrow(exact: Any, inputs: tuple[float, ...]) -> Any:
    """An engine that stores a narrower type rounds a float64 constant operand too: its value's
    rounding scales with the operands, not only with the result (cancellation included)."""
    if exact is None or J.eps() == J.EPS:
        return exact
    return exact[0], max([exact[1], *(abs(x) for x in inputs if math.isfinite(x))])


def _disagrees(value: float, grads: tuple[float, ...] | None, t_value: float, t_grads: tuple[float, ...]) -> bool:
    if not J.identical(value, t_value) and J.ulp_distance(value, t_value) > J.CLOSE_ULPS:
        return True
    return grads is not None and any(
        g == g and not J.identical(g, t) and J.ulp_distance(g, t) > J.CLOSE_ULPS
        for g, t in zip(grads, t_grads))


def _cancels(mine: float, exact: Any) -> bool:
    """Whether ``mine`` is the rounding of a sum that cancels: within a few eps of the terms."""
    if exact is None or not math.isfinite(mine):
        return False
    value, scale = exact
    return abs(mine - value) <= J.STRICT_FLOOR * J.eps() * scale


def _call(node: Node, inputs: tuple[float, ...]) -> str:
    args = ", ".join(repr(x) for x in inputs)
    params = "".join(f", {p!r}" for p in node.params)
    return f"{node.op}({args}{params})"


# ``x op c`` with a plain number c is another op in torch where the row says so (``scalar_form``:
# ``x ** 2.0`` is pow(Tensor, Scalar)): the exact reference judges it as that op.
def _ref_name(node: Node) -> str:
    form = OPS[node.op].scalar_form
    return form if form is not None and node.form == "nc" else node.op


def _ref_inputs(node: Node, inputs: tuple[float, ...]) -> tuple[float, ...]:
    return inputs[:1] if _ref_name(node) != node.op else inputs


def _ref_params(node: Node) -> tuple[Any, ...]:
    if _ref_name(node) != node.op:
        return (node.args[1].value,)  # type: ignore[union-attr]
    return node.params
