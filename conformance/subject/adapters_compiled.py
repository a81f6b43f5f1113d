"""``engine.compile`` as an engine to the harness: ``--engine conformance.subject.adapters_compiled:CompiledAdapter``.

The adapter's nodes are recipes (an op, its operands, its parameters), not Values. Reading a
node's value compiles the function that builds the node's graph from its leaves and replays it;
``backward()`` replays the root's compiled function and keeps every node's gradient, adding to what
an earlier backward() left, as ``Value`` does. Each graph is traced at other numbers than the
leaves' (:data:`TRACE_AT`), so a replay must follow its own numbers through every branch of the
ops: nothing from the trace's numbers can leak into a result unnoticed.
"""

from __future__ import annotations

import struct
from typing import Any, Sequence

from vetgrad.conformance.subject.adapters import Adapter
from vetgrad.engine import Value
from vetgrad.engine.compiled import Compiled
from vetgrad.engine.ops import Op

TRACE_AT = (0.37, -1.9, 2.6, 0.81, -0.23)  # leaf numbers of a trace, in turn


class Recipe:
    """A node of the adapter: a leaf (``op`` None, ``value``) or an op on earlier recipes and
    plain-number constants."""

    __slots__ = ("args", "compiled", "computed", "op", "params", "value")

    def __init__(self, op: Op | None, args: tuple[Any, ...] = (), params: tuple[Any, ...] = (),
                 value: float = 0.0) -> None:
        self.op, self.args, self.params, self.value = op, args, params, value
        self.compiled: tuple[Compiled, list[Recipe], dict[int, int]] | None = None
        self.computed = False  # an op's value is known (replayed)


def leaves_and_nodes(root: Recipe) -> tuple[list[Recipe], list[Recipe]]:
    """The leaves ``root`` is computed from (in the order they were made) and every recipe on
    the way, operands before the nodes using them."""
    seen: set[int] = set()
    nodes: list[Recipe] = []
    stack: list[tuple[Recipe, bool]] = [(root, False)]
    while stack:
        r, done = stack.pop()
        if done:
            nodes.append(r)
            continue
        if id(r) in seen:
            continue
        seen.add(id(r))
        stack.append((r, True))
        stack.extend((a, False) for a in reversed(r.args) if isinstance(a, Recipe))
    leaves = [r for r in nodes if r.op is None]
    return leaves, nodes


def build_on_values(nodes: Sequence[Recipe], leaves: Sequence[Value],
                    leaf_recipes: Sequence[Recipe]) -> dict[int, Value]:
    """Each recipe as a Value, built with the ops as a user writes them (the row's ``call``)."""
    made: dict[int, Value] = {id(r): v for r, v in zip(leaf_recipes, leaves)}
    for r in nodes:
        if r.op is not None:
            args = [made[id(a)] if isinstance(a, Recipe) else a for a in r.args]
            made[id(r)] = r.op.call(*args, *r.params)  # type: ignore[misc]
    return made


def compile_recipe(root: Recipe) -> tuple[Compiled, list[Recipe], dict[int, int]]:
    """``root``'s graph compiled as a function of its leaves, traced at :data:`TRACE_AT`: the
    compiled function, its leaves, and each recipe's position in the trace."""
    leaf_recipes, nodes = leaves_and_nodes(root)
    leaves = [Value(TRACE_AT[i % len(TRACE_AT)]) for i in range(len(leaf_recipes))]
    made = build_on_values(nodes, leaves, leaf_recipes)
    compiled = Compiled.from_graph(leaves, made[id(root)], keep=True, name="harness_graph")
    assert compiled.order is not None
    where = {id(v): k for k, v in enumerate(compiled.order)}
    positions = {id(r): where[id(made[id(r)])] for r in nodes if id(made[id(r)]) in where}
    return compiled, leaf_recipes, positions


def _same(x: float, y: float) -> bool:
    """Bit for bit (any nan is any nan)."""
    return (x != x and y != y) or struct.pack("<d", x) == struct.pack("<d", y)


class CompiledAdapter(Adapter):
    """The harness's view of ``engine.compile``: every value and gradient comes from a replay."""

    name = "engine.compile"

    def __init__(self) -> None:
        self._grads: dict[int, float] = {}
        self._keep: list[Recipe] = []  # recipes with a gradient stay alive (ids stay unique)
        self._single: dict[Any, Compiled] = {}  # one op alone, by op, form and constants

    def leaf(self, x: float) -> Recipe:
        return Recipe(None, value=float(x))

    def apply(self, op: Op, args: Sequence[Any], params: tuple[Any, ...]) -> Recipe:
        for a in args:
            if not isinstance(a, (Recipe, int, float)):
                raise TypeError(f"{op.name}: operand {a!r} is neither a node nor a number")
        if op.call is None:
            raise NotImplementedError(f"{op.name} has no spelling")
        if not any(isinstance(a, Recipe) for a in args):
            raise TypeError(f"{op.name} needs a node operand")
        return Recipe(op, tuple(a if isinstance(a, Recipe) else float(a) for a in args), params)

    def _compiled(self, r: Recipe) -> tuple[Compiled, list[float], dict[int, int]]:
        if r.compiled is None:
            r.compiled = compile_recipe(r)
        compiled, leaf_recipes, positions = r.compiled
        return compiled, [leaf.value for leaf in leaf_recipes], positions

    def value(self, node: Recipe) -> float:
        """The node's op alone, compiled (cached per op, form and constants) and replayed on its
        operands' values; backward() then checks the whole graph's replay against these."""
        if node.op is None or node.computed:
            return node.value
        operands = [a for a in node.args if isinstance(a, Recipe)]
        distinct = list({id(a): a for a in operands}.values())
        key = (node.op.name, tuple(repr(p) for p in node.params),
               tuple(repr(a) if not isinstance(a, Recipe) else distinct.index(a) for a in node.args))
        single = self._single.get(key)
        if single is None:
            stand_ins = [Recipe(None) for _ in distinct]
            args = tuple(stand_ins[distinct.index(a)] if isinstance(a, Recipe) else a
                         for a in node.args)
            single = self._single[key] = compile_recipe(Recipe(node.op, args, node.params))[0]
        node.value = self._replay_values(single, [self.value(a) for a in distinct])[-1]
        node.computed = True
        return node.value

    def _replay_values(self, compiled: Compiled, xs: list[float]) -> list[float]:
        """Every node's value at ``xs`` (the batched adapter replays a batch instead)."""
        return compiled.replay_values(*xs)

    def _replay_all(self, compiled: Compiled, xs: list[float]) -> tuple[list[float], list[float]]:
        return compiled.replay_all(*xs)

    def grad(self, node: Recipe) -> float:
        return self._grads.get(id(node), 0.0)

    def backward(self, root: Recipe) -> None:
        if root.op is None:
            grads, positions = [1.0], {id(root): 0}
            nodes = [root]
        else:
            compiled, xs, positions = self._compiled(root)
            values, grads = self._replay_all(compiled, xs)
            nodes = leaves_and_nodes(root)[1]
            for r in nodes:  # the whole graph's replay must give what each op alone gave
                k = positions.get(id(r))
                if k is not None and r.op is not None and not _same(values[k], self.value(r)):
                    raise RuntimeError(f"the compiled graph's value of a {r.op.name} node is "
                                       f"{values[k]!r}, its op alone gave {r.value!r}")
        for r in nodes:
            k = positions.get(id(r))
            if k is None:
                continue
            old = self._grads.get(id(r))
            self._grads[id(r)] = grads[k] if old is None else old + grads[k]
            self._keep.append(r)
