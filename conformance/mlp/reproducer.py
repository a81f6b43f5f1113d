"""A finding as a standalone script: it builds the learner's model with the weights that show it,
runs what the finding is about (the forward, the loss and backward(), or their training steps)
beside the same network in torch float64, prints both and exits 1 while they differ."""

from __future__ import annotations

import os

from vetgrad.conformance.mlp.findings import MlpFinding
from vetgrad.conformance.mlp.layout import Shape, slots
from vetgrad.conformance.mlp.learner import Loaded

_IMPORT_FILE = """\
def _load(file, attr, name):
    import importlib.util
    sys.path.insert(0, os.path.dirname(file))
    spec = importlib.util.spec_from_file_location(name, file)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return getattr(module, attr)
"""

_IMPORT_SOURCE = """\
def _load_source(source, file, attr, name):
    import types
    sys.path.insert(0, os.path.dirname(file))
    module = types.ModuleType(name)
    module.__file__ = file
    sys.modules[name] = module
    exec(compile(source, file, "exec"), module.__dict__)
    return getattr(module, attr)
"""

_BODY = '''
def num(v):
    for name in ("data", "val", "value"):
        x = getattr(v, name, None)
        if isinstance(x, (int, float)) and not isinstance(x, bool):
            return float(x)
    return float(v)


def set_num(v, x):
    for name in ("data", "val", "value"):
        if isinstance(getattr(v, name, None), (int, float)):
            setattr(v, name, x)
            return
    v.data = x


def torch_net(flat):
    """The same network in torch float64: per layer W (nout x nin) and b, filled by SLOTS."""
    sizes = [NIN, *NOUTS]
    ws = [torch.zeros(sizes[i + 1], sizes[i], dtype=torch.float64) for i in range(len(NOUTS))]
    bs = [torch.zeros(sizes[i + 1], dtype=torch.float64) for i in range(len(NOUTS))]
    for (layer, j, k), x in zip(SLOTS, flat):
        if k < 0:
            bs[layer][j] = x
        else:
            ws[layer][j, k] = x
    return [w.requires_grad_() for w in ws], [b.requires_grad_() for b in bs]


def torch_forward(ws, bs, xs):
    h = torch.tensor(xs, dtype=torch.float64)
    for w, b, act in zip(ws, bs, ACTS):
        h = h @ w.T + b
        h = {"tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid}.get(act, lambda t: t)(h)
    return h


def torch_loss(ws, bs):
    return ((torch_forward(ws, bs, XS) - torch.tensor(YS, dtype=torch.float64)) ** 2).sum()


def differs(a, b, scale=None):
    big = max(abs(x) for x in b) if scale is None else scale
    return any(abs(x - y) > 5e-7 * max(abs(y), 1e-3 * big, 1e-12) for x, y in zip(a, b)) or len(a) != len(b)


def their_loss(model):
    loss = None
    for x, y in zip(XS, YS):
        out = model(x)
        terms = [(out - y[0]) ** 2] if len(y) == 1 else [(o - t) ** 2 for o, t in zip(out, y)]
        for term in terms:
            loss = term if loss is None else loss + term
    return loss


random.seed(SEED)
model = MLP(NIN, NOUTS)
params = model.parameters()
print(f"parameters(): {len(params)} numbers; MLP({NIN}, {NOUTS}) has {EXPECTED}")
if CHECK == "parameters":
    sys.exit(1 if len(params) != EXPECTED else 0)
for p, w in zip(params, WEIGHTS):
    set_num(p, w)
ws, bs = torch_net(WEIGHTS)
'''

_FORWARD = '''
ref = torch_forward(ws, bs, XS).tolist()
bad = False
for x, want in zip(XS, ref):
    out = model(x)
    mine = [num(v) for v in out] if isinstance(out, (list, tuple)) else [num(out)]
    mark = "  <-- differs" if differs(mine, want) else ""
    bad = bad or bool(mark)
    print(f"model({x}) = {mine}   torch: {want}{mark}")
if CHECK == "forward":
    sys.exit(1 if bad else 0)
loss = their_loss(model)
ref_loss = torch_loss(ws, bs)
print(f"loss {num(loss)!r}   torch: {ref_loss.item()!r}")
if CHECK == "loss":
    sys.exit(1 if differs([num(loss)], [ref_loss.item()]) else 0)
loss.backward()
ref_loss.backward()
mine = [num(p.grad) if not isinstance(p.grad, (int, float)) else float(p.grad) for p in params]
want = [(bs[l].grad[j] if k < 0 else ws[l].grad[j, k]).item() for l, j, k in SLOTS]
scale = max(abs(g) for g in want)
for (l, j, k), a, b in zip(SLOTS, mine, want):
    what = "bias" if k < 0 else f"weight {k}"
    mark = "  <-- differs" if differs([a], [b], scale) else ""
    print(f"layer {l}, neuron {j}, {what}: .grad {a!r}   torch: {b!r}{mark}")
sys.exit(1 if differs(mine, want) else 0)
'''

_TRAINING = '''
opt = torch.optim.SGD([t for pair in zip(ws, bs) for t in pair], lr=LR)
ys = [y[0] for y in YS] if len(YS[0]) == 1 else YS
bad = False
for k in range(1, STEPS + 1):
    out = step(model, [list(x) for x in XS], ys)
    opt.zero_grad()
    ref = torch_loss(ws, bs)
    ref.backward()
    opt.step()
    mine = [num(p) for p in model.parameters()]
    want = [(bs[l][j] if kk < 0 else ws[l][j, kk]).item() for l, j, kk in SLOTS]
    loss = None if out is None else num(out)
    differ = loss is None or differs([loss], [ref.item()]) or differs(mine, want)
    bad = bad or differ
    print(f"step {k}: loss {loss!r}   torch: {ref.item()!r}   largest parameter difference "
          f"{max(abs(a - b) for a, b in zip(mine, want)):.3g}{'  <-- differs' if differ else ''}")
sys.exit(1 if bad else 0)
'''

_OWN_STEP = '''
def step(model, xs, ys):  # the lecture's loop with the model's own zero_grad() and step(lr)
    loss = their_loss(model)
    model.zero_grad()
    loss.backward()
    if hasattr(model, "step"):
        model.step(LR_GIVEN)
    else:
        for p in model.parameters():
            p.step(LR_GIVEN)
    return loss
'''


def _import_lines(loaded: Loaded, name: str, var: str) -> list[str]:
    if loaded.source is not None:
        file = loaded.file or os.path.join(os.getcwd(), f"{name}.py")
        return [f"{var} = _load_source({loaded.source!r}, {file!r}, {loaded.attr!r}, {name!r})"]
    if loaded.file and (loaded.module is None or loaded.module.startswith("_vetgrad_user_")
                        or not _importable_here(loaded)):
        return [f"{var} = _load({os.path.abspath(loaded.file)!r}, {loaded.attr!r}, {name!r})"]
    root = _root(loaded)
    lines = [f"sys.path.insert(0, {root!r})"] if root else []
    return [*lines, f"from {loaded.module} import {loaded.attr} as {var}"]


def _importable_here(loaded: Loaded) -> bool:
    return bool(loaded.module) and "<" not in loaded.attr and "." not in loaded.attr


def _root(loaded: Loaded) -> str | None:
    """The folder a module is imported from (the checkout's root for tests.engines...)."""
    if not loaded.file or not loaded.module:
        return None
    parts = loaded.module.split(".")
    path = os.path.abspath(loaded.file)
    tail = os.path.join(*parts) + (os.sep + "__init__.py" if path.endswith("__init__.py") else ".py")
    return path[: -len(tail)].rstrip(os.sep) if path.endswith(tail) else None


def script(f: MlpFinding, model: Loaded, step: Loaded | None) -> str:
    ex = f.example
    if ex is None:
        return ""
    shape = Shape(ex.nin, tuple(ex.nouts))
    order = ex.order or "neuron"
    acts = ex.acts or ["tanh"] * len(ex.nouts)
    check = f.check if f.check in ("parameters", "forward", "loss", "gradients", "training") else "forward"
    lines = [f'"""vetgrad mlp reproducer ({f.check}): {f.message}', "",
             f"Builds {shape} of {model.name} with the weights that show it beside the same network",
             'in torch float64 (python3 reproducer.py); exits 1 while they differ."""', "",
             "import os", "import random", "import sys", "", "import torch", "",
             _IMPORT_FILE, _IMPORT_SOURCE]
    lines += _import_lines(model, "learner_mlp", "MLP")
    if check == "training" and step is not None:
        lines += _import_lines(step, "learner_step", "step")
    lines += ["", f"NIN, NOUTS = {ex.nin}, {list(ex.nouts)}", f"EXPECTED = {shape.numbers}",
              f"SEED = {ex.seed}", f"WEIGHTS = {ex.weights!r}", f"XS = {ex.xs!r}", f"YS = {ex.ys!r}",
              f"SLOTS = {slots(shape, order)!r}  # parameters() in order: (layer, neuron, input; -1 the bias)",
              f"ACTS = {acts!r}", f"CHECK = {check!r}",
              f"STEPS, LR = {ex.steps}, {abs(ex.lr) if ex.lr else 0.05!r}",
              f"LR_GIVEN = {abs(ex.lr) if ex.lr else 0.05!r}", _BODY]
    if check == "training":
        if step is None:
            lines.append(_OWN_STEP)
        lines.append(_TRAINING)
    else:
        lines.append(_FORWARD)
    return "\n".join(lines)


def attach(f: MlpFinding, model: Loaded, step: Loaded | None) -> None:
    """Give ``f`` its reproducer (the script's text)."""
    try:
        f.reproducer = script(f, model, step)
    except Exception as exc:  # a reproducer that cannot be written is said, not a crash
        f.reproducer = f"# no reproducer: {type(exc).__name__}: {exc}"
