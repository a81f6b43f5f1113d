"""Misuse raises what torch raises (the exception type and the substance of its message), one line
per case; the torch column is the same misuse in torch, checked to raise the same type."""

from __future__ import annotations

import pytest
from vetgrad.engine import Value, backward, grad, no_grad


def _graph() -> dict:
    a, z = Value(3.0), Value(5.0)
    with no_grad():
        ng = a * a
    return {"a": a, "z": z, "y": a * a, "ng": ng}


def _torch_graph(torch) -> dict:
    a = torch.tensor(3.0, dtype=torch.float64, requires_grad=True)
    z = torch.tensor(5.0, dtype=torch.float64, requires_grad=True)
    with torch.no_grad():
        ng = a * a
    return {"a": a, "z": z, "y": a * a, "ng": ng, "grad": torch.autograd.grad}


# (case, vetgrad misuse, the same in torch or None where torch accepts it, exception, message)
CASES = [
    ("backward from a no_grad result", "ng.backward()", "ng.backward()",
     RuntimeError, r"element 0 of outputs does not require grad .* computed under no_grad\(\)"),
    ("backward from a detached copy", "a.detach().backward()", "a.detach().backward()",
     RuntimeError, r"does not require grad and does not have a grad_fn"),
    ("backward with a str gradient", "y.backward('2')", "y.backward('2')",
     TypeError, r"backward\(\) gradient must be a real number, a Value or None, but got str: '2'"),
    ("backward with a list gradient", "y.backward([1.0])", "y.backward([1.0])",
     TypeError, r"gradient must be .* but got list"),
    ("backward with a bool gradient", "y.backward(True)", "y.backward(True)",
     TypeError, r"gradient must be .* but got bool"),
    ("backward() of a float", "backward(3.0)", None, TypeError, r"backward\(\) needs a Value, got float"),
    ("grad of a float", "grad(3.0, [a])", "grad(3.0, [a])",
     TypeError, r"grad\(\) outputs must be a Value or a sequence of Values, got float: 3.0"),
    ("grad of a str", "grad('y', [a])", None, TypeError, r"outputs must be a Value .* got str"),
    ("grad of a list with a float", "grad([y, 3.0], [a])", None,
     TypeError, r"grad\(\) outputs must be Values, got float at index 1"),
    ("grad with respect to a float", "grad(y, [3.0])", "grad(y, [3.0])",
     RuntimeError, r"all inputs have to be Values, but got float"),
    ("grad with inputs a float", "grad(y, 3.0)", "grad(y, 3.0)",
     TypeError, r"grad\(\) inputs must be a Value or a sequence of Values, got float"),
    ("grad with no inputs", "grad(y, [])", "grad(y, [])",
     RuntimeError, r"`inputs` argument to `grad\(\)` cannot be empty"),
    ("grad of no outputs", "grad([], [a])", "grad([], [a])",
     RuntimeError, r"Value at index 0 appears to not have been used in the graph"),
    ("grad of an input not in the graph", "grad(y, [a, z])", "grad(y, [a, z])",
     RuntimeError, r"index 1 appears to not have been used .* Set allow_unused=True"),
    ("grad of a no_grad result", "grad(ng, [a])", "grad(ng, [a])",
     RuntimeError, r"element 0 of outputs does not require grad"),
    ("grad of outputs, one from no_grad", "grad([y, ng], [a])", "grad([y, ng], [a])",
     RuntimeError, r"element 1 of outputs does not require grad"),
    ("grad w.r.t. a no_grad result", "grad(y, [ng])", "grad(y, [ng])",
     RuntimeError, r"One of the differentiated Values does not require grad"),
    ("... even with allow_unused", "grad(y, [a, ng], allow_unused=True)",
     "grad(y, [a, ng], allow_unused=True)", RuntimeError, r"does not require grad"),
    ("grad_outputs too short", "grad([y, y], [a], grad_outputs=[1.0])",
     "grad([y, y], [a], grad_outputs=[torch.ones((), dtype=torch.float64)])",
     RuntimeError, r"got 2 outputs and 1 grad_outputs"),
    ("grad_outputs too long (torch ignores it)", "grad(y, [a], grad_outputs=[1.0, 2.0])", None,
     RuntimeError, r"got 1 outputs and 2 grad_outputs"),
    ("grad_outputs with a str", "grad(y, [a], grad_outputs=['2'])", "grad(y, [a], grad_outputs=['2'])",
     TypeError, r"grad_outputs entries must be a real number, a Value or None, but got str"),
    ("grad_outputs a bare float", "grad(y, [a], grad_outputs=3.0)", "grad(y, [a], grad_outputs=3.0)",
     TypeError, r"grad_outputs must be a sequence with one entry per output"),
    ("backward through floor division", "(a // 2.0).backward()", "(a // 2).backward()",
     RuntimeError, r"floordiv"),
]


@pytest.mark.parametrize(("case", "misuse", "in_torch", "error", "message"), CASES,
                         ids=[c[0] for c in CASES])
def test_misuse_raises_what_torch_raises(case, misuse, in_torch, error, message) -> None:
    with pytest.raises(error, match=message):
        eval(misuse, {"backward": backward, "grad": grad, **_graph()})


@pytest.mark.torch
@pytest.mark.parametrize(("case", "misuse", "in_torch", "error", "message"),
                         [c for c in CASES if c[2] is not None], ids=[c[0] for c in CASES if c[2]])
def test_torch_raises_the_same_type(case, misuse, in_torch, error, message) -> None:
    torch = pytest.importorskip("torch")
    with pytest.raises(error):
        eval(in_torch, {"torch": torch, **_torch_graph(torch)})


@pytest.mark.parametrize(("call", "expected"), [
    ("(a.backward(), a.grad)[1]", 1.0),  # a leaf requires grad (all leaves here do)
    ("(y.backward(None), a.grad)[1]", 6.0),
    ("(y.backward(Value(2.0)), a.grad)[1]", 12.0),
    ("grad(y, [a], grad_outputs=[None])[0].data", 6.0),
    ("grad(y, [a], grad_outputs=Value(2.0))[0].data", 12.0),
    ("grad(y, [a, z], allow_unused=True)[1]", None),
])
def test_what_torch_accepts_works(call, expected) -> None:
    a = Value(3.0)
    assert eval(call, {"Value": Value, "grad": grad, "a": a, "y": a * a, "z": Value(5.0)}) == expected
