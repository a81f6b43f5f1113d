"""Hostile engine: a C extension that breaks the interpreter's rules. A lecture-style ``Value``
whose ``**`` (both operand orders: ``x ** y``, ``x ** 2``, ``2 ** x``) is the ``nb_power`` slot of
a C base class (PowBase, compiled on first import with the machine's C compiler and Python's
headers) that returns its result with ``ValueError`` still set. The interpreter does not check a
slot's result, so the exception surfaces later, as ``SystemError: <...> returned a result with an
exception set`` in whatever C function is called next (the harness's own steps, unless it
checks). Division is built from it (``self * other**-1``); add, mul, neg, sub and tanh are
correct.

Self-contained (no import of vetgrad or tests), so that ``--engine path/to/exception_set.py:Value``
loads it as a learner's file. :func:`compiler_missing` says why it cannot be built here, if so.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import math
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile

SOURCE = r"""
#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* A base class whose ** (the nb_power slot, both operand orders) asks the Python subclass for its
   result (_pow / _rpow) and returns it with ValueError still set: the rule every C function must
   keep (a result, or NULL with an exception, never both) broken on purpose. The interpreter does
   not check a slot's result: the exception surfaces later, in whatever C function is called next
   ("SystemError: <built-in function pow> returned a result with an exception set"). */
static PyTypeObject PowBase;

static PyObject *nb_power(PyObject *v, PyObject *w, PyObject *z) {
    PyObject *res = PyObject_TypeCheck(v, &PowBase) ? PyObject_CallMethod(v, "_pow", "O", w)
                                                     : PyObject_CallMethod(w, "_rpow", "O", v);
    if (res == NULL)
        return NULL;
    PyErr_SetString(PyExc_ValueError, "math domain error");
    return res;
}

static PyNumberMethods as_number = {.nb_power = nb_power};

static PyTypeObject PowBase = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "_vetgrad_exception_set.PowBase",
    .tp_basicsize = sizeof(PyObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_new = PyType_GenericNew,
    .tp_as_number = &as_number,
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_vetgrad_exception_set", NULL, -1, NULL};

PyMODINIT_FUNC PyInit__vetgrad_exception_set(void) {
    if (PyType_Ready(&PowBase) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    Py_INCREF(&PowBase);
    if (PyModule_AddObject(m, "PowBase", (PyObject *)&PowBase) < 0)
        return NULL;
    return m;
}
"""
NAME = "_vetgrad_exception_set"


def compiler_missing() -> str | None:
    """Why the extension cannot be built on this machine (None: it can)."""
    if shutil.which(os.environ.get("CC", "cc")) is None and shutil.which("gcc") is None:
        return "no C compiler (cc or gcc) on PATH"
    include = sysconfig.get_paths().get("include") or ""
    if not os.path.exists(os.path.join(include, "Python.h")):
        return f"no Python.h in {include!r} (install the Python development headers)"
    return None


def _build() -> str:
    """The extension's path, compiled once per source and interpreter (atomically: workers and
    fresh engine processes build it side by side)."""
    suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
    key = hashlib.sha256((SOURCE + sys.version + suffix).encode()).hexdigest()[:16]
    folder = os.path.join(tempfile.gettempdir(), f"vetgrad-hostile-{key}")
    path = os.path.join(folder, NAME + suffix)
    if os.path.exists(path):
        return path
    why = compiler_missing()
    if why:
        raise ImportError(f"cannot build the exception_set engine's C extension: {why}")
    os.makedirs(folder, exist_ok=True)
    source = os.path.join(folder, f"{NAME}-{os.getpid()}.c")
    with open(source, "w") as fh:
        fh.write(SOURCE)
    partial = f"{path}.{os.getpid()}.tmp"
    compiler = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")
    subprocess.run([compiler, "-shared", "-fPIC", "-O1", f"-I{sysconfig.get_paths()['include']}",
                    source, "-o", partial, "-lm"], check=True, capture_output=True)
    os.replace(partial, path)
    os.remove(source)
    return path


def _load():
    path = _build()
    spec = importlib.util.spec_from_file_location(NAME, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


PowBase = _load().PowBase


class Value(PowBase):
    """As the micrograd lecture ends, except that ``**`` is PowBase's C slot (see above); division
    is built from it (``self * other**-1``), as in the lecture."""

    def __init__(self, data, _children=(), _op=""):
        self.data = data
        self.grad = 0.0
        self._backward = lambda: None
        self._prev = tuple(_children)
        self._op = _op

    def __repr__(self):
        return f"Value(data={self.data})"

    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data + other.data, (self, other), "+")

        def _backward():
            self.grad += out.grad
            other.grad += out.grad
        out._backward = _backward
        return out

    def __radd__(self, other):
        return self + other

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data * other.data, (self, other), "*")

        def _backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad
        out._backward = _backward
        return out

    def __rmul__(self, other):
        return self * other

    def _pow(self, other):  # x ** y, called by PowBase's slot
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data**other.data, (self, other), "**")

        def _backward():
            self.grad += other.data * self.data ** (other.data - 1) * out.grad
            other.grad += out.data * math.log(self.data) * out.grad
        out._backward = _backward
        return out

    def _rpow(self, other):  # 2 ** x
        return Value(other)._pow(self)

    def __truediv__(self, other):
        return self * other**-1

    def __rtruediv__(self, other):
        return other * self**-1

    def __neg__(self):
        return self * -1

    def __sub__(self, other):
        return self + (-other)

    def __rsub__(self, other):
        return other + (-self)

    def tanh(self):
        t = math.tanh(self.data)
        out = Value(t, (self,), "tanh")

        def _backward():
            self.grad += (1 - t**2) * out.grad
        out._backward = _backward
        return out

    def backward(self):
        topo, seen, stack = [], set(), [(self, False)]
        while stack:
            node, done = stack.pop()
            if done:
                topo.append(node)
            elif id(node) not in seen:
                seen.add(id(node))
                stack.append((node, True))
                stack.extend((child, False) for child in node._prev)
        self.grad = 1.0
        for node in reversed(topo):
            node._backward()
