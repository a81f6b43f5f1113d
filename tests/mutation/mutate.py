"""Every mechanical mutant of a lecture-style engine, made on its syntax tree.

``python -m tests.mutation.mutate [SOURCE] [--write DIR] [--json PATH] [--kinds a,b]`` parses SOURCE
(default: tests/engines/learners/lecture.py) and lists each mutant as ``id  description``; the
runner (tests/mutation/run.py) runs the conformance harness on each.

Kinds of mutation (:data:`KINDS`), each one change at one place:

- ``binop``: an arithmetic operator (``+ - * / **``) replaced by each of the others;
- ``assign``: ``+=`` replaced by ``=``; ``subassign``: ``+=`` replaced by ``-=``;
- ``const``: a numeric constant ``c`` replaced by ``c + 1`` and by ``c - 1`` (0 -> 1, 1 -> 0, 2 -> 1);
- ``negdrop``: a unary minus dropped; ``negadd``: a unary minus added to an operand of an arithmetic
  operator (a name, attribute or call) or to the value a ``Value(...)`` is made from;
- ``compare``: ``>`` <-> ``>=``, ``<`` <-> ``<=``, ``>`` <-> ``<``;
- ``swap``: ``self``, ``other`` or ``out`` inside a ``_backward`` replaced by another of the three
  that the enclosing method binds;
- ``delete``: a statement deleted from a ``_backward``, from ``backward()`` or its ``build_topo``,
  or the ``out._backward = _backward`` that attaches the rule;
- ``unreversed``: ``reversed(topo)`` replaced by ``topo``.

A mutant's id (``kind:method:Lline:Cstart-end:change``) is stable for one source text. Mutants whose
source does not change after ``ast.unparse``, or whose change is inside ``__repr__``, are marked
equivalent (:attr:`Mutant.equivalent`); a mutant whose source equals an earlier one's is marked
as its duplicate (:attr:`Mutant.duplicate_of`). The mutated source is ``ast.unparse`` of the
changed tree (comments dropped).
"""

from __future__ import annotations

import argparse
import ast
import copy
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

LECTURE = Path(__file__).resolve().parents[1] / "engines" / "learners" / "lecture.py"

KINDS = ("binop", "assign", "subassign", "const", "negdrop", "negadd", "compare", "swap", "delete",
         "unreversed")

# The harness's op names (conformance's OPS) of an engine's methods; backward() and its helpers
# are the graph's structure, which the harness reports as op "graph".
OP_OF_METHOD = {
    "__add__": "add", "__radd__": "add", "__mul__": "mul", "__rmul__": "mul", "__pow__": "pow",
    "__truediv__": "div", "__rtruediv__": "div", "__sub__": "sub", "__rsub__": "sub",
    "__neg__": "neg", "tanh": "tanh", "exp": "exp", "relu": "relu", "sigmoid": "sigmoid",
    "log": "log", "backward": "graph", "build_topo": "graph", "__init__": "graph",
}

_BINOPS: dict[type[ast.operator], str] = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/",
                                          ast.Pow: "**"}
_COMPARE_SWAPS: dict[type[ast.cmpop], tuple[type[ast.cmpop], ...]] = {
    ast.Gt: (ast.GtE, ast.Lt), ast.GtE: (ast.Gt,), ast.Lt: (ast.LtE, ast.Gt), ast.LtE: (ast.Lt,)}
_CMP_TEXT = {ast.Gt: ">", ast.GtE: ">=", ast.Lt: "<", ast.LtE: "<="}
_SWAPPABLE = ("self", "other", "out")
_STRUCTURE = ("backward", "build_topo")

Path_ = tuple[tuple[str, int | None], ...]  # fields (and list indices) from the module to a node


@dataclass(frozen=True)
class Mutant:
    """One change at one place of the source."""

    id: str
    kind: str
    method: str        # the innermost named function around the change that is not _backward
    op: str            # the harness's name of the op it is in ("graph": backward(); "" unknown)
    line: int
    before: str
    after: str
    source: str        # the whole mutated module
    equivalent: str = ""     # why it is equivalent to the original, when that is known statically
    duplicate_of: str = ""   # the id of an earlier mutant with the same source

    @property
    def description(self) -> str:
        return f"{self.op or self.method or 'module'} L{self.line}: {self.before} -> {self.after}"


@dataclass
class _Site:
    kind: str
    path: Path_
    node: ast.AST
    funcs: tuple[str, ...]
    tag: str
    change: Callable[[ast.AST], ast.AST | None]  # the new node (None: delete the statement)


def _walk(node: ast.AST, path: Path_ = (), funcs: tuple[str, ...] = ()
          ) -> Iterator[tuple[Path_, ast.AST, tuple[str, ...]]]:
    """Every node with its path and the names of the functions around it (outermost first)."""
    yield path, node, funcs
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        funcs = (*funcs, node.name)
    for field, value in ast.iter_fields(node):
        if isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, ast.AST):
                    yield from _walk(item, (*path, (field, i)), funcs)
        elif isinstance(value, ast.AST):
            yield from _walk(value, (*path, (field, None)), funcs)


def _method(funcs: tuple[str, ...]) -> str:
    """The innermost function that is not a ``_backward``: the op's method (or build_topo)."""
    return next((f for f in reversed(funcs) if f != "_backward"), "")


def _bound_names(tree: ast.Module, method: str) -> set[str]:
    """Names the method (any function of that name) binds: its arguments and assignments."""
    names: set[str] = set()
    for fn in ast.walk(tree):
        if isinstance(fn, ast.FunctionDef) and fn.name == method:
            names.update(a.arg for a in fn.args.args)
            for node in ast.walk(fn):
                if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                    names.add(node.id)
    return names


def _number(node: ast.AST) -> bool:
    return (isinstance(node, ast.Constant) and isinstance(node.value, (int, float))
            and not isinstance(node.value, bool))


def _neg(node: ast.expr) -> ast.expr:
    return ast.UnaryOp(op=ast.USub(), operand=node)


def _sites(tree: ast.Module) -> Iterator[_Site]:
    parents: dict[int, ast.AST] = {}
    for parent in ast.walk(tree):
        for child in ast.iter_child_nodes(parent):
            parents[id(child)] = parent
    bound: dict[str, set[str]] = {}
    for path, node, funcs in _walk(tree):
        method = _method(funcs)
        in_backward = bool(funcs) and funcs[-1] == "_backward"
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            for op_type, text in _BINOPS.items():
                if op_type is not type(node.op):
                    yield _Site("binop", path, node, funcs, f"{_BINOPS[type(node.op)]}>{text}",
                                lambda n, t=op_type: ast.BinOp(left=n.left, op=t(), right=n.right))
            for side in ("left", "right"):
                operand = getattr(node, side)
                if isinstance(operand, (ast.Name, ast.Attribute, ast.Call)):
                    yield _Site("negadd", (*path, (side, None)), operand, funcs,
                                "neg", _neg)
        elif isinstance(node, ast.AugAssign) and isinstance(node.op, ast.Add):
            yield _Site("assign", path, node, funcs, "+=>=",
                        lambda n: ast.Assign(targets=[n.target], value=n.value, lineno=n.lineno))
            yield _Site("subassign", path, node, funcs, "+=>-=",
                        lambda n: ast.AugAssign(target=n.target, op=ast.Sub(), value=n.value))
        elif _number(node):
            value = node.value
            for new in dict.fromkeys((value + 1, value - 1)):
                yield _Site("const", path, node, funcs, f"{value!r}>{new!r}",
                            lambda n, v=new: ast.Constant(value=v))
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            yield _Site("negdrop", path, node, funcs, "unneg",
                        lambda n: n.operand)
        elif isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _COMPARE_SWAPS:
            for op_type in _COMPARE_SWAPS[type(node.ops[0])]:
                yield _Site("compare", path, node, funcs,
                            f"{_CMP_TEXT[type(node.ops[0])]}>{_CMP_TEXT[op_type]}",
                            lambda n, t=op_type: ast.Compare(left=n.left, ops=[t()], comparators=n.comparators))
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "reversed"
              and len(node.args) == 1):
            yield _Site("unreversed", path, node, funcs, "reversed", lambda n: n.args[0])
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Value"
                and node.args):
            yield _Site("negadd", (*path, ("args", 0)), node.args[0], funcs,
                        "neg", _neg)
        if in_backward and isinstance(node, ast.Name) and node.id in _SWAPPABLE:
            names = bound.setdefault(method, _bound_names(tree, method))
            for other in _SWAPPABLE:
                if other != node.id and other in names:
                    yield _Site("swap", path, node, funcs, f"{node.id}>{other}",
                                lambda n, o=other: ast.Name(id=o, ctx=n.ctx))
        if isinstance(node, ast.stmt) and path and path[-1][0] == "body":
            parent = parents.get(id(node))
            attaches = (isinstance(node, ast.Assign) and len(node.targets) == 1
                        and ast.unparse(node.targets[0]).endswith("._backward"))
            if ((isinstance(parent, ast.FunctionDef)
                    and (parent.name == "_backward" or parent.name in _STRUCTURE)) or attaches):
                yield _Site("delete", path, node, funcs, "del", lambda n: None)


def _statement_path(tree: ast.Module, path: Path_) -> Path_:
    """The path of the innermost statement that holds the node at ``path`` (or is it)."""
    best: Path_ = ()
    holder: ast.AST = tree
    for i, (field, index) in enumerate(path):
        value = getattr(holder, field)
        holder = value[index] if index is not None else value
        if isinstance(holder, ast.stmt):
            best = path[:i + 1]
    return best


def _at(tree: ast.AST, path: Path_) -> ast.AST | None:
    node: ast.AST = tree
    for field, index in path:
        value = getattr(node, field)
        if index is not None and index >= len(value):
            return None
        node = value[index] if index is not None else value
    return node


def _first_line(node: ast.AST | None) -> str:
    return "(deleted)" if node is None else ast.unparse(node).splitlines()[0]


def _apply(tree: ast.Module, site: _Site) -> tuple[str, str]:
    """The source of ``tree`` with ``site``'s change made (on a copy), and the first line of the
    changed statement after the change."""
    tree = copy.deepcopy(tree)
    holder: ast.AST = tree
    for field, index in site.path[:-1]:
        value = getattr(holder, field)
        holder = value[index] if index is not None else value
    field, index = site.path[-1]
    deleted = False
    if index is None:
        old = getattr(holder, field)
        setattr(holder, field, site.change(old))
    else:
        items = getattr(holder, field)
        new = site.change(items[index])
        if new is None:
            deleted = True
            del items[index]
            if not items:
                items.append(ast.Pass())
        else:
            items[index] = new
    ast.fix_missing_locations(tree)
    after = "(deleted)" if deleted else _first_line(_at(tree, _statement_path(tree, site.path)))
    return ast.unparse(tree), after


def mutants(source: str, kinds: tuple[str, ...] = KINDS) -> list[Mutant]:
    """Every mutant of ``source`` of the given kinds, in the order of a walk of its tree (pre-order:
    the same order for the same source)."""
    tree = ast.parse(source)
    original = ast.unparse(tree)
    out: list[Mutant] = []
    seen: dict[str, str] = {original: ""}
    ids: set[str] = set()
    for site in _sites(tree):
        if site.kind not in kinds:
            continue
        method = _method(site.funcs)
        line = getattr(site.node, "lineno", 0)
        span = f"C{getattr(site.node, 'col_offset', 0)}-{getattr(site.node, 'end_col_offset', 0)}"
        mutant_id = f"{site.kind}:{method or 'module'}:L{line}:{span}:{site.tag}"
        assert mutant_id not in ids, f"two mutants with id {mutant_id}"
        ids.add(mutant_id)
        text, after = _apply(tree, site)
        before = _first_line(_at(tree, _statement_path(tree, site.path)))
        equivalent = ""
        duplicate = ""
        if text == original:
            equivalent = "the source is unchanged after ast.unparse"
        elif "__repr__" in site.funcs:
            equivalent = "the change is inside __repr__, which computes nothing the harness reads"
        elif text in seen:
            duplicate = seen[text]
        seen.setdefault(text, mutant_id)
        out.append(Mutant(id=mutant_id, kind=site.kind, method=method, op=OP_OF_METHOD.get(method, ""),
                          line=line, before=before, after=after,
                          source=text + "\n", equivalent=equivalent, duplicate_of=duplicate))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.mutation.mutate",
        description="List (and write) every mechanical mutant of a lecture-style engine.")
    parser.add_argument("source", nargs="?", default=str(LECTURE),
                        help="the engine's source file (default: tests/engines/learners/lecture.py)")
    parser.add_argument("--kinds", default=",".join(KINDS), help=f"kinds of mutation (default: {','.join(KINDS)})")
    parser.add_argument("--write", metavar="DIR", help="write each mutant as DIR/mNNN.py")
    parser.add_argument("--json", metavar="PATH", help="write the mutants (ids, descriptions, sources) as JSON")
    args = parser.parse_args(argv)
    kinds = tuple(k for k in args.kinds.split(",") if k)
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        parser.error(f"unknown kinds {', '.join(unknown)}; known: {', '.join(KINDS)}")
    found = mutants(Path(args.source).read_text(encoding="utf-8"), kinds)
    for i, m in enumerate(found):
        note = f"  [equivalent: {m.equivalent}]" if m.equivalent else (
            f"  [duplicate of {m.duplicate_of}]" if m.duplicate_of else "")
        print(f"m{i:03d}  {m.id}  {m.description}{note}")
    if args.write:
        folder = Path(args.write)
        folder.mkdir(parents=True, exist_ok=True)
        for i, m in enumerate(found):
            (folder / f"m{i:03d}.py").write_text(m.source, encoding="utf-8")
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(m) | {"description": m.description} for m in found],
                                              indent=1), encoding="utf-8")
    kinds_count = {k: sum(m.kind == k for m in found) for k in kinds}
    print(f"{len(found)} mutants ({', '.join(f'{k} {n}' for k, n in kinds_count.items())}); "
          f"{sum(bool(m.equivalent) for m in found)} equivalent, "
          f"{sum(bool(m.duplicate_of) for m in found)} duplicates", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
