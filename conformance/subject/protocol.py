"""The wire format between the harness (:mod:`conformance.subject.process`) and the engine's own
process (:mod:`conformance.subject.server`), written once for both sides. Light on purpose: the
engine's process imports it (standard library only).

Each message is an 8-byte little-endian length (:data:`HEADER`) and a pickle, over two pipes.
Requests are tuples from the trusted harness, their first item the kind:
``("load", spec, memory_limit)``, ``("probe",)``, ``("run", graphs)``,
``("derivatives", k, leaf, max_order)``, ``("derivative_graph", k, order)``,
``("derivative_at", graph, leaf, x, order)``, ``("sanity",)``, ``("composition", forms)``,
``("spellings", pairs)``, ``("probe_log",)``, ``("modules",)``, ``("precision",)``.

Answers hold builtins and this module's named answers only (the harness unpickles them with
:class:`AnswerUnpickler`, which refuses every other class): ``("ok", x)`` (for ``load``, ``x`` is
a :class:`LoadAnswer`), ``("error", text)``, ``("fatal", text)`` (a BaseException other than
SystemExit out of the engine; the process then exits), and per graph of a run a
:class:`GraphAnswer`.

What the engine is doing is written to a shared mark file as :data:`MARK` (graph, node, phase)
before each step, so that the harness can say where a process that died or hung was.

The zygote (:func:`conformance.subject.server.zygote`) takes ``("fork", mark_path)`` with three
file descriptors -> ``("pid", pid)``, ``("wait", pid, seconds)`` -> ``("status", code or None)``
and ``("preload", names)`` -> ``("done", None)``, one pickle per datagram of its Unix socket.
"""

from __future__ import annotations

import io
import os
import pickle
import struct
from typing import Any, ClassVar, NamedTuple

HEADER = struct.Struct("<Q")  # the length of the pickle that follows
MARK = struct.Struct("<iii")  # (graph, node, phase) in the mark file
MAX_MESSAGE = 256 << 20  # bytes: a longer answer is a broken protocol, not data

# the request kinds
LOAD, PROBE, RUN, DERIVATIVES, DERIVATIVE_GRAPH, DERIVATIVE_AT = (
    "load", "probe", "run", "derivatives", "derivative_graph", "derivative_at")
SANITY, COMPOSITION, SPELLINGS, PROBE_LOG, MODULES, PRECISION = (
    "sanity", "composition", "spellings", "probe_log", "modules", "precision")
# the answer kinds (besides GraphAnswer)
OK, ERROR, FATAL = "ok", "error", "fatal"
# the zygote's requests and answers
FORK, WAIT, PRELOAD = "fork", "wait", "preload"
PID, STATUS, DONE = "pid", "status", "done"


class GraphAnswer(NamedTuple):
    """What the engine did on one graph of a ``run`` request, builtins only. ``alone``: the result
    ``(value, local derivatives or None, error or None)`` of each op run alone, in
    :func:`conformance.subject.execute.alone_cases`' order (the harness knows the rest)."""

    values: list[float]
    crash: tuple[int, str] | None  # (node, error) in forward
    backward_error: str | None
    grads: list[float] | None
    repeat_error: str | None
    repeat_node: int
    alone: list[tuple[float, tuple[float, ...] | None, str | None]]
    output: str  # an excerpt of what the engine printed meanwhile
    repeat_grads: list[float] | None  # every node's grad after a second backward()


class LoadAnswer(NamedTuple):
    """The ``x`` of ``("ok", x)`` for a ``load`` request."""

    name: str
    supports_higher_order: bool
    installed: list[str]  # installed packages the engine imported (the zygote may preload them)
    ref: tuple[str, str, Any]  # (kind, target, spelling as JSON or None): what a reproducer imports


ANSWER_TYPES = (GraphAnswer, LoadAnswer)


class AnswerUnpickler(pickle.Unpickler):
    """An answer is builtins and :data:`ANSWER_TYPES` only: an engine that forges a pickle cannot
    run code in the harness."""

    allowed: ClassVar[dict[tuple[str, str], type]] = {(c.__module__, c.__qualname__): c for c in ANSWER_TYPES}

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self.allowed[module, name]
        except KeyError:
            raise pickle.UnpicklingError(f"the engine's process sent a {module}.{name}") from None


def unpickle_answer(data: bytes) -> Any:
    """An answer's pickle, read with :class:`AnswerUnpickler`."""
    return AnswerUnpickler(io.BytesIO(data)).load()


def frame(message: Any) -> bytes:
    """``message`` as it goes over a pipe: its length, then its pickle (pickling comes first, so
    a message that cannot be pickled writes nothing)."""
    body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return HEADER.pack(len(body)) + body


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
