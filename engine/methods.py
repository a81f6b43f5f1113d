"""``Value``'s methods made from the op table's rows: a new row needs no edit of engine/value.py.

Each method is one source template, compiled once per row and spelling in the namespace of
:mod:`engine.value` (which passes it to :func:`install`, so the methods read its grad-mode global
as code written there would). The row's forward is inlined where the row gives it as code
(``Op.code``: ``{a} + {b}``, ``tanh({a})``), else called (``forward(...)``); then the node is built
inline. So the hot operators (``+ - * /``, relu, tanh, ...) cost no call: a call is about a third
of a node. engine/value.py writes by hand only the spellings that take parameters or depend on the
operand (``**``, leaky_relu, clamp), marked with :func:`spells`.
"""

from __future__ import annotations

import linecache
import re
from functools import partial
from types import FunctionType
from typing import Any, Callable, Iterable, TypeVar

from vetgrad.engine import templates as T  # noqa: N812 - the templates' names
from vetgrad.engine.ops import OPS, Op

Method = TypeVar("Method", bound=Callable[..., Any])
_HAND_WRITTEN: dict[Callable[..., Any], str] = {}  # method -> name of the op it spells

# The methods' source: ``{x}`` binds an operand read more than once, ``{n}`` (and ``{nn}``,
# ``{nc}``, ``{cn}``) is the forward's expression; _NODE builds the node (at the depth of the
# method's body; indented further for the two-Value branch).
_NODE = """
    if not _grad_enabled and not _mode.enabled:
        return _untracked(data)
    out = _new(Value)
    out.data = data
    out.grad = _UNSET
    out._a = self
    out._b = {parent}
    out._spec = {spec}
    return out"""
_UNARY = "def method(self):\n    {x}data = {n}" + _NODE.format(parent="None", spec="spec")
_BINARY = """def method(self, other):
    cls = other.__class__
    if cls is Value or (cls is not float and isinstance(other, Value)):
        {xy}data = {nn}{node_nn}
    c = other if cls is float else _operand(other)
    if c is NotImplemented:
        {refuse}
    {x}data = {nc}""" + _NODE.format(parent="c", spec="spec_right")
_REFLECTED = """def reflected(self, other):
    c = other if other.__class__ is float else _operand(other)
    if c is NotImplemented:
        return NotImplemented
    {x}data = {cn}""" + _NODE.format(parent="c", spec="spec_left")
_WITH_PARAMS = """def method(self, *args, **kwargs):
    params = parse(args, kwargs)
    data = forward(self.data, *params)
    if not _grad_enabled and not _mode.enabled:
        return _untracked(data)
    return _node(data, self, None, spec.bind(*params))"""


def spells(op_name: str) -> Callable[[Method], Method]:
    """Mark a method of ``Value`` as written by hand for op ``op_name``: it gets the row's doc
    (unless it has its own), and :func:`install` leaves its name alone."""
    op = OPS[op_name]

    def mark(method: Method) -> Method:
        _HAND_WRITTEN[method] = op.name
        if method.__doc__ is None:
            method.__doc__ = op.doc
        return method

    return mark


def spelled(value: Any) -> str | None:
    """The op a class attribute was written by hand for, if it is such a method."""
    return _HAND_WRITTEN.get(value) if isinstance(value, FunctionType) else None


def expression(op: Op, form: str, a: str, b: str) -> tuple[str, str]:
    """(statements binding the operands, the forward's expression) of ``form`` with the node
    operand ``a`` and the other ``b`` (``c`` for a constant): the row's code template ("nn" also
    serves a constant, a variable here), else a call of the row's forward. An operand used more
    than once is read into a local first."""
    key = "n" if form == "n" else "cn" if form == "cn" and "cn" in op.code else "nn"
    code = op.code.get(key, (None, None))[0]
    reflected = form == "cn" and key == "nn"  # c op x where the row has no template of its own
    if code is None or (reflected and op.reflected_forward is not None):
        call = "reflected_forward" if reflected and op.reflected_forward else "forward"
        return "", f"{call}({a})" if form == "n" else f"{call}(c, {a})" if form == "cn" else f"{call}({a}, {b})"
    values = {"a": b, "b": a} if reflected else {"a": a, "b": b, "c": b}
    bind = ""
    for key, local in (("a", "x"), ("b", "y")):
        if code.count("{" + key + "}") > 1 and values[key] != "c":
            bind += f"{local} = {values[key]}\n{' ' * (8 if form == 'nn' else 4)}"
            values[key] = local
    return bind, code.format(**values)


def _compile(op: Op, name: str, source: str, names: dict[str, Any],
             namespace: dict[str, Any]) -> Callable[..., Any]:
    """``source`` (a method) as a function of ``namespace`` (engine.value's globals), with the
    row's objects it names (``spec``, ``forward``, the templates' ``tanh``, ...) added there under
    the row's own names (``_row_tanh_spec``): a global costs a hot method less than a closure's
    cell. Its lines are kept for tracebacks."""
    names = {key: value for key, value in names.items() if re.search(rf"\b{key}\b", source)}
    own = {key: f"_row_{op.name}_{key}" for key in names}
    source = re.sub(r"\b(" + "|".join(names) + r")\b", lambda m: own[m.group(1)], source)
    for key, value in names.items():
        namespace[own[key]] = value
    filename = f"<vetgrad.engine.value: Value.{name}, made from the {op.name} row>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    scope: dict[str, Any] = {}
    exec(compile(source, filename, "exec"), namespace, scope)
    return scope[source[4:source.index("(")]]  # type: ignore[no-any-return]


def _unary_method(op: Op, namespace: dict[str, Any]) -> Callable[..., Any]:
    """``x.name()`` for a unary op."""
    bind, n = expression(op, "n", "self.data", "")
    return _compile(op, op.method or f"__{op.dunder}__", _UNARY.format(x=bind, n=n),
                    dict(T.NAMESPACE, spec=op, forward=op.forward), namespace)


def _unary_method_with_params(op: Op, namespace: dict[str, Any]) -> Callable[..., Any]:
    """``x.name(p1, p2=...)`` for a unary op with constant parameters (each a real number, or
    None where the row's default is None): the row's defaults fill in what is not given."""
    parse = partial(_params, op, namespace["_coerce"])
    return _compile(op, op.method or op.name, _WITH_PARAMS,
                    dict(spec=op, forward=op.forward, parse=parse), namespace)


def _params(op: Op, coerce: Callable[[Any, str], float], args: tuple[Any, ...],
            kwargs: dict[str, Any]) -> tuple[float | None, ...]:
    names = [name for name, _ in op.params]
    if len(args) > len(names):
        raise TypeError(f"{op.method}() takes at most {len(names)} parameters "
                        f"({', '.join(names)}), got {len(args)}")
    unknown = set(kwargs) - set(names)
    if unknown:
        raise TypeError(f"{op.method}() got an unexpected parameter {sorted(unknown)[0]!r}; "
                        f"its parameters: {', '.join(names)}")
    given = dict(zip(names, args))
    clash = set(given) & set(kwargs)
    if clash:
        raise TypeError(f"{op.method}() got parameter {sorted(clash)[0]!r} twice")
    given.update(kwargs)
    defaults = dict(op.params)
    return tuple(None if value is None and defaults[name] is None else coerce(value, f"{op.method} {name}")
                 for name, value in ((name, given.get(name, defaults[name])) for name in names))


def _binary_methods(op: Op, dunder: bool, namespace: dict[str, Any]) -> tuple[Callable[..., Any], Callable[..., Any] | None]:
    """``x op y`` and its reflected form ``c op x`` for a binary op. An operator (``dunder``)
    answers NotImplemented to an operand it does not know, so that Python can try the other side;
    a named method (``x.maximum(y)``) raises a TypeError at once."""
    name = op.method or op.name
    xy, nn = expression(op, "nn", "self.data", "other.data")
    x, nc = expression(op, "nc", "self.data", "c")
    node_nn = _NODE.format(parent="other", spec="spec").replace("\n", "\n    ")
    refuse = "return NotImplemented" if dunder else f"_refuse(other, {name!r})"
    cells = dict(T.NAMESPACE, spec=op, spec_right=op.const_right, spec_left=op.const_left,
                 forward=op.forward, reflected_forward=op.reflected_forward)
    method = _compile(op, f"__{op.dunder}__" if dunder else name, _BINARY.format(
        xy=xy, nn=nn, node_nn=node_nn, refuse=refuse, x=x, nc=nc), cells, namespace)
    if not dunder:
        return method, None
    xr, cn = expression(op, "cn", "self.data", "c")
    return method, _compile(op, f"__r{op.dunder}__", _REFLECTED.format(x=xr, cn=cn), cells, namespace)


def names_of(op: Op) -> list[str]:
    """The names a row asks ``Value`` for: ``__op__`` and (binary) ``__rop__`` from ``dunder``,
    and ``method``."""
    names = []
    if op.dunder:
        names.append(f"__{op.dunder}__")
        if op.arity == 2:
            names.append(f"__r{op.dunder}__")
    if op.method:
        names.append(op.method)
    return names


def methods_of(op: Op, namespace: dict[str, Any]) -> dict[str, Callable[..., Any]]:
    """A row's methods by name (for a unary op with a dunder and a method, one function:
    ``x.abs()`` is ``abs(x)``), compiled in ``namespace`` (engine.value's)."""
    if op.params and (op.arity != 1 or op.dunder):
        raise TypeError(f"op {op.name!r} has parameters {op.params}: only a unary method can take "
                        "them from the row; write its Value method by hand in engine/value.py "
                        "(marked @spells)")
    made: dict[str, Callable[..., Any]] = {}
    if op.arity == 1:
        method = (_unary_method_with_params if op.params else _unary_method)(op, namespace)
        for name in names_of(op):
            made[name] = method
    else:
        if op.dunder:
            made[f"__{op.dunder}__"], made[f"__r{op.dunder}__"] = _binary_methods(op, True, namespace)  # type: ignore[assignment]
        if op.method:
            made[op.method] = _binary_methods(op, False, namespace)[0]
    named = set()
    for name, function in made.items():
        if function not in named:  # the first name of a shared function is its own
            named.add(function)
            function.__doc__ = op.doc
            function.__name__ = name
            function.__qualname__ = f"Value.{name}"  # pickle finds a method by this name
    return made


def install(cls: type, rows: Iterable[Op], namespace: dict[str, Any]) -> None:
    """Give ``cls`` every method the ``rows`` ask for, except those written by hand (marked
    @spells); any other name already taken is a mistake in the table."""
    for name, value in list(cls.__dict__.items()):
        op_name = spelled(value)
        if op_name is not None and name not in names_of(OPS[op_name]):
            raise TypeError(f"Value.{name} is marked as op {op_name!r}, whose row does not ask for it")
    for op in rows:
        names = [name for name in names_of(op) if spelled(cls.__dict__.get(name)) != op.name]
        if not names:
            continue
        made = methods_of(op, namespace)
        for name in names:
            if name in cls.__dict__:
                raise TypeError(f"op {op.name!r} asks for Value.{name}, which Value already has")
            setattr(cls, name, made[name])
