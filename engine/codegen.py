"""Straight-line Python from a traced graph: the forward pass, then ``backward()``'s pass, as
plain float code (``v3 = v1 * v2`` ... ``g1 = g3 * v2``).

The order of float operations is ``backward()``'s own: nodes in its topological order
(:func:`engine.backprop.topological_order`, the same iterative walk), gradients propagated in the
reverse of that order, each node's first operand before its second. A node's first contribution
is assigned (``-0.0 + c`` is ``c`` to the bit, so signed zeros match), later ones added. Hot ops are
inlined from :mod:`engine.templates`; every other op calls its row's ``forward`` and float ``vjp``
(what ``backward()``'s ``spec.back`` computes). Branches of ops (relu, abs, max/min ties, clamp)
are in their templates or rows, so they are evaluated on each replay's numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

from vetgrad.engine import templates as T  # noqa: N812 - short name for the template table
from vetgrad.engine.ops import FLOAT, BoundOp, ConstOp, Op


def _spec_parts(node: Any) -> tuple[Op, str, tuple[Any, ...], Any]:
    """(op, form, params, spec) of a non-leaf node; TypeError for a node this cannot replay."""
    spec = node._spec
    if isinstance(spec, ConstOp):
        return spec.op, "nc" if spec.right else "cn", (), spec
    if isinstance(spec, BoundOp):
        return spec.op, "n" if spec.arity == 1 else "nn", spec.params, spec
    if isinstance(spec, Op):
        return spec, "n" if spec.arity == 1 else "nn", (), spec
    raise TypeError(f"cannot compile a node with op {getattr(spec, 'symbol', spec)!r}: it was "
                    "built by hand (Value(x, children, op)); build it with vetgrad's operators")


MODES = ("root", "all", "values")


@dataclass(frozen=True)
class Dialect:
    """What a replay is written in: the expressions of one node's forward and of its gradient
    contributions, how a contribution is added, how a constant of the trace is written, and the
    names the code needs. Plain floats here; numpy arrays in :mod:`engine.batched`. The walk
    (:func:`generate`), so the order of every float operation, is the same for both."""

    forward: Callable[..., str]  # (op, form, params, a, b, env) -> expression
    backward: Callable[..., tuple[str, ...]]  # (op, form, params, k, a, b, env, lines)
    accumulate: str  # a later contribution ``{e}`` to gradient ``{t}``
    constant: str  # a constant ``{c}`` (a literal) of the trace
    namespace: dict[str, Any]


def generate(order: Sequence[Any], inputs: Sequence[Any], name: str, mode: str = "root",
             dialect: Dialect | None = None) -> tuple[str, dict[str, Any]]:
    """Source of ``def name(<one per input>)`` and the globals it needs. It returns ``(value of
    the root, (gradient of each input, ...))`` (mode "root": gradients that reach no input are
    not computed); ``([value of every node], [gradient of every node])`` in ``order`` (mode
    "all"); or ``[value of every node]``, with no backward pass (mode "values"). ``order`` is the
    topological order of the root (last); ``inputs`` are leaves, some possibly not in it.
    ``dialect``: plain floats (:data:`SCALAR`, the default) or another (:class:`Dialect`)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    d = SCALAR if dialect is None else dialect
    full = mode != "root"
    pos = {id(v): k for k, v in enumerate(order)}
    env: dict[str, Any] = dict(d.namespace, F=FLOAT)
    params = []
    for j, x in enumerate(inputs):
        k = pos.get(id(x))
        params.append(f"v{k}" if k is not None and f"v{k}" not in params else f"unused{j}")
    is_input = {id(x) for x in inputs}
    # needed: the node's gradient reaches an input (others are pruned unless ``full``)
    needed = [False] * len(order)
    parts: list[Any] = [None] * len(order)
    lines = [f"def {name}({', '.join(params)}):", "    # forward"]
    for k, v in enumerate(order):
        if v._a is None:
            needed[k] = full or id(v) in is_input
            if id(v) not in is_input:
                lines.append(f"    v{k} = {d.constant.format(c=T.literal(v.data))}  # a constant of the trace")
            continue
        op, form, ps, spec = _spec_parts(v)
        a = pos[id(v._a)]
        b = v._b if form in ("nc", "cn") else (None if v._b is None else pos[id(v._b)])
        parts[k] = (op, form, ps, spec, a, b)
        needed[k] = full or needed[a] or (form == "nn" and needed[b])
        lines.append(f"    v{k} = {d.forward(op, form, ps, a, b, env)}")
    if mode == "values":
        lines.append(f"    return [{', '.join(f'v{k}' for k in range(len(order)))}]")
        return "\n".join(lines) + "\n", env
    lines.append("    # backward: backward()'s order, the root's gradient 1.0")
    root = len(order) - 1
    lines.append(f"    g{root} = 1.0")
    assigned = {root}
    for k in range(root, -1, -1):
        if parts[k] is None:
            continue
        op, form, ps, spec, a, b = parts[k]
        if op.vjp is None:  # raises as backward() does, wherever the node is
            env[f"back_{op.name}"] = spec.back
            lines.append(f"    back_{op.name}(None)  # {op.name} has no derivative")
            continue
        if not needed[k]:
            continue
        targets = [a] if form in ("n", "nc", "cn") else [a, b]
        for t, expr in zip(targets, d.backward(op, form, ps, k, a, b, env, lines)):
            if not needed[t]:
                continue
            lines.append(f"    {d.accumulate.format(t=f'g{t}', e=expr)}" if t in assigned
                         else f"    g{t} = {expr}")
            assigned.add(t)
    for k in range(len(order)):
        if needed[k] and k not in assigned:
            lines.append(f"    g{k} = -0.0  # no contribution: a pass starts at -0.0")
    if full:
        lines.append(f"    return [{', '.join(f'v{k}' for k in range(len(order)))}], "
                     f"[{', '.join(f'g{k}' for k in range(len(order)))}]")
    else:
        grads = [f"g{pos[id(x)]}" if id(x) in pos else "0.0" for x in inputs]
        lines.append(f"    return v{root}, ({', '.join(grads)}{',' if len(grads) == 1 else ''})")
    return "\n".join(lines) + "\n", env


def _forward(op: Op, form: str, ps: tuple[Any, ...], a: int, b: Any, env: dict[str, Any]) -> str:
    c = T.literal(b) if form in ("nc", "cn") else None
    if T.usable(T.FORWARD, op.name, form, b if c is not None else None) and not ps:
        return T.FORWARD[(op.name, form)].format(a=f"v{a}", b=f"v{b}", c=c)
    extra = "".join(f", {T.literal(p)}" for p in ps)
    if form == "cn":
        fn = f"rfwd_{op.name}"
        env[fn] = op.reflected_forward or op.forward
        return f"{fn}({c}, v{a})"
    fn = f"fwd_{op.name}"
    env[fn] = op.forward
    second = f", {c}" if form == "nc" else (f", v{b}" if form == "nn" else "")
    return f"{fn}(v{a}{second}{extra})"


def _backward(op: Op, form: str, ps: tuple[Any, ...], k: int, a: int, b: Any,
              env: dict[str, Any], lines: list[str]) -> tuple[str, ...]:
    """The gradient contributions of node ``k`` to its node operands (statements computing them,
    for a call of the row's VJP, are appended to ``lines``)."""
    c = T.literal(b) if form in ("nc", "cn") else None
    if T.usable(T.BACKWARD, op.name, form, b if c is not None else None) and not ps:
        return tuple(t.format(a=f"v{a}", b=f"v{b}", c=c, g=f"g{k}", out=f"v{k}")
                     for t in T.BACKWARD[(op.name, form)])
    extra = "".join(f", {T.literal(p)}" for p in ps)
    if form == "n":
        fn = f"vjp_{op.name}"
        env[fn] = op.vjp
        return (f"{fn}(F, g{k}, v{a}, v{k}{extra})",)
    if form == "nn":
        fn = f"vjp_{op.name}"
        env[fn] = op.vjp
        lines.append(f"    t{k}a, t{k}b = {fn}(F, g{k}, v{a}, v{b}, v{k}{extra})")
        return (f"t{k}a", f"t{k}b")
    if form == "nc":
        fn = f"vjp_{op.name}"
        env[fn] = op.vjp
        return (f"{fn}(F, g{k}, v{a}, {c}, v{k})[0]",)
    fn = f"rvjp_{op.name}"
    env[fn] = op.reflected_vjp or op.vjp
    return (f"{fn}(F, g{k}, {c}, v{a}, v{k})[1]",)


SCALAR = Dialect(_forward, _backward, "{t} += {e}", "{c}", T.NAMESPACE)
"""Plain floats: the compiled replay's own code."""
