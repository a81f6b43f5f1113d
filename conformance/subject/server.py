"""The engine's own processes. ``python -m vetgrad.conformance.subject.server SOCK`` is a zygote: it imports the
engine-side modules once and forks a fresh engine process per request of the harness (see
:func:`zygote`), cheaply. An engine process loads the engine and answers the harness's requests,
one message at a time, over two pipes. Neither imports torch or the judge (only the engine and
:mod:`conformance.subject.execute`).

The wire format (requests, answers, framing, the mark) is :mod:`conformance.subject.protocol`'s.
A BaseException other than SystemExit out of the engine gives a ``fatal`` answer and the process
exits. The engine's prints go to a per-graph buffer (an excerpt comes back with each graph) and,
its head only, to file descriptor 1 (a file the harness reads after a crash).
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import io
import linecache
import mmap
import os
import pickle
import signal
import sys
import types
from typing import Any

from vetgrad.conformance.subject import protocol as P  # noqa: N812
from vetgrad.conformance.subject.protocol import MARK, GraphAnswer, LoadAnswer

EXCERPT = 240  # characters of an engine's output kept per graph


class Capture(io.TextIOBase):
    """sys.stdout and sys.stderr of the engine: counts what it prints per graph, keeps the head."""

    def __init__(self) -> None:
        self.head: list[str] = []
        self.kept = self.count = 0

    def write(self, text: str) -> int:
        text = str(text)
        self.count += len(text)
        if self.kept < EXCERPT:
            piece = text[: EXCERPT - self.kept]
            self.head.append(piece)
            self.kept += len(piece)
            with contextlib.suppress(OSError):
                os.write(1, piece.encode("utf-8", "replace"))
        return len(text)

    def writable(self) -> bool:
        return True

    def take(self) -> str:
        """What was printed since the last call: '' or the head and the total length."""
        if not self.count:
            return ""
        text = "".join(self.head)
        out = text if self.count == len(text) else f"{text}... ({self.count:,} characters)"
        self.head, self.kept, self.count = [], 0, 0
        return out


def _read(fd: int, n: int) -> bytes:
    chunks = []
    while n:
        chunk = os.read(fd, n)
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def send(fd: int, message: Any) -> None:
    P.write_all(fd, P.frame(message))


def receive(fd: int) -> Any:
    (n,) = P.HEADER.unpack(_read(fd, P.HEADER.size))
    return pickle.loads(_read(fd, n))


def load(spec: dict) -> Any:
    """The adapter the spec names (the fields of conformance.subject.session.EngineSpec, as a dict):
    its search path first, modules given as source text executed under their names, then
    load_adapter or unpickling."""
    for entry in reversed(spec["path"]):
        if entry not in sys.path:
            sys.path.insert(0, entry)
    for name, source, filename in spec["sources"]:
        module = types.ModuleType(name)
        module.__file__ = filename
        sys.modules[name] = module
        linecache.cache[f"<{name}>"] = (len(source), None, source.splitlines(True), f"<{name}>")
        try:
            code = compile(source, f"<{name}>", "exec")  # (the probe quotes its lines)
        except SyntaxError as exc:  # named by the learner's file, not the module's made-up name
            exc.filename = filename or exc.filename
            raise
        exec(code, module.__dict__)
    from vetgrad.conformance.subject.adapters import load_adapter

    if spec["pickled"] is not None:
        return load_adapter(pickle.loads(spec["pickled"]))
    return load_adapter(spec["target"])


class Server:
    """The request loop, with the engine's adapter and the runs of the last batch."""

    def __init__(self, fd_in: int, fd_out: int, mark_path: str) -> None:
        self.fd_in, self.fd_out = fd_in, fd_out
        with open(mark_path, "r+b") as fh:
            self.marks = mmap.mmap(fh.fileno(), MARK.size)
        self.graph = 0
        self.adapter: Any = None
        self.runs: list[Any] = []
        self.derivs: dict[int, list[Any]] = {}
        self.capture = Capture()

    def mark(self, node: int, phase: int) -> None:
        MARK.pack_into(self.marks, 0, self.graph, node, phase)

    def serve(self) -> None:
        from vetgrad.conformance.subject import execute as R  # noqa: N812

        while True:
            try:
                request = receive(self.fd_in)
            except EOFError:
                return
            kind = request[0]
            try:
                if kind == P.RUN:
                    self.run(request[1], R)
                    continue
                answer = self.answer(kind, request, R)
            except (SystemExit, KeyboardInterrupt, GeneratorExit) as exc:
                if isinstance(exc, SystemExit):
                    raise
                said = R.said_text(exc)
                send(self.fd_out, (P.FATAL, f"the engine raised {type(exc).__name__}"
                                            f"{': ' + said if said else ''}"))
                os._exit(3)
            except Exception as exc:
                answer = (P.ERROR, R.error_text(exc))
            try:
                send(self.fd_out, answer)
            except Exception as exc:  # (nothing written: pickling comes first)
                send(self.fd_out, (P.ERROR, f"the answer could not be sent: {R.error_text(exc)}"))

    def answer(self, kind: str, request: tuple, R: Any) -> tuple:
        if kind == P.LOAD:
            R.MEMORY_LIMIT = limit_memory(request[2])
            before = set(sys.modules)
            self.adapter = load(request[1])
            from vetgrad.conformance.subject.address import adapter_ref

            return (P.OK, LoadAnswer(str(self.adapter.name), bool(self.adapter.supports_higher_order),
                                     _installed(set(sys.modules) - before), adapter_ref(self.adapter)))
        if kind == P.PROBE:
            self.graph = -1
            adapter = self.adapter
            apply = adapter.apply
            names = ("leaf", "value", "backward")
            calls = {name: getattr(adapter, name) for name in names}

            def marking(op: Any, args: Any, params: Any) -> Any:
                self.mark(list(R.OPS).index(op.name), R.PROBE)
                out = apply(op, args, params)
                R.surface()  # an exception the engine's C code left set is this op's, raised here
                return out

            def checked(call: Any) -> Any:
                def run(*args: Any) -> Any:
                    out = call(*args)
                    R.surface()
                    return out
                return run

            adapter.apply = marking
            for name in names:
                setattr(adapter, name, checked(calls[name]))
            try:
                forms = adapter.forms()
            finally:
                for name in ("apply", *names):
                    with contextlib.suppress(AttributeError):
                        delattr(adapter, name)
            return (P.OK, {str(k): tuple(str(f) for f in v) for k, v in forms.items()})
        if kind == P.SANITY:  # faults of the engine as a whole (conformance.subject.sanity)
            from vetgrad.conformance.subject.sanity import check

            self.graph = -1
            return (P.OK, [(str(c), str(m)) for c, m in check(self.adapter)])
        if kind == P.COMPOSITION:  # which ops each op's result is built from (_prev, _op)
            from vetgrad.conformance.subject.composition import built_from

            self.graph = -1
            parts = built_from(self.adapter, request[1])
            return (P.OK, {str(k): tuple(str(p) for p in v) for k, v in parts.items()})
        if kind == P.SPELLINGS:  # the spelling applied for each (op, form): what a reproducer writes
            chosen = getattr(self.adapter, "spelling", None)
            return (P.OK, [None if chosen is None else str(chosen(R.OPS[op], form))
                           for op, form in request[1]])
        if kind == P.PROBE_LOG:
            return (P.OK, [tuple(map(str, d)) for d in getattr(self.adapter, "probe_log", [])])
        if kind == P.DERIVATIVES:
            _, k, leaf, max_order = request
            self.graph = k
            values, self.derivs[k] = R.derivatives(self.adapter, self.runs[k], leaf, max_order,
                                                   self.mark)
            return (P.OK, [v if v is None or isinstance(v, str) else float(v) for v in values])
        if kind == P.DERIVATIVE_GRAPH:
            _, k, order = request
            nodes = self.adapter.derivative_graph(self.derivs[k][order - 1])
            return (P.OK, [(n.op, tuple(map(float, n.inputs)), float(n.value), tuple(map(bool, n.constant)))
                           for n in nodes])
        if kind == P.DERIVATIVE_AT:
            _, graph, leaf, x, order = request
            self.mark(order, R.HIGHER)
            return (P.OK, float(R.derivative_at(self.adapter, graph, leaf, x, order)))
        if kind == P.MODULES:
            return (P.OK, sorted(sys.modules))
        if kind == P.PRECISION:
            from vetgrad.conformance.subject.adapters import precision

            name, eps = precision(self.adapter)
            return (P.OK, (str(name), float(eps)))
        return (P.ERROR, f"unknown request {kind!r}")

    def run(self, graphs: list, R: Any) -> None:
        """Each graph in turn, one answer per graph as it is done. Whatever escapes the graph's
        run or its answer (an exception the engine's C code left set that surfaced in the
        harness's own steps, an object that cannot say itself) is a crash verdict on the graph,
        where it was (the mark), never a broken protocol."""
        self.runs, self.derivs = [], {}
        for k, graph in enumerate(graphs):
            self.graph = k
            alone: list[Any] = []
            mark = functools.partial(MARK.pack_into, self.marks, 0, k)  # self.mark without a frame
            try:
                run = R.run_engine(self.adapter, graph, alone, mark)
                message = _graph_message(run, alone, self.capture.take())
            except Exception as exc:
                run = self._escaped(exc, graph, R)
                message = _graph_message(run, [], self.capture.take())
            self.runs.append(run)
            try:
                send(self.fd_out, message)
            except Exception as exc:  # (nothing written: pickling comes first)
                run = self._escaped(exc, graph, R)
                send(self.fd_out, _graph_message(run, [], ""))

    def _escaped(self, exc: BaseException, graph: Any, R: Any) -> Any:
        """The crash verdict on ``graph`` of an exception out of its run, where the mark says."""
        _, node, phase = MARK.unpack_from(self.marks, 0)
        node = min(max(node, 0), len(graph.nodes) - 1)
        text = R.crash_text(exc, graph, node, phase)
        if not text.startswith(R.LOST):
            text = f"{R.LOST}the engine raised {text} {R.where(graph, node, phase)}"
        return R.EngineRun([], [], (node, text))


def limit_memory(limit: int) -> int:
    """Cap this process's data (heap and private mappings: RLIMIT_DATA) at ``limit`` bytes (0: no
    cap), and make it the OOM killer's first pick, before the harness, where the OS has these.
    Returns the cap in force (0: none)."""
    with contextlib.suppress(OSError), open("/proc/self/oom_score_adj", "w") as fh:
        fh.write("1000")
    if limit <= 0:
        return 0
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
        for given in (soft, hard):  # a lower cap the harness was started under stays
            if given != resource.RLIM_INFINITY:
                limit = min(limit, given)
        resource.setrlimit(resource.RLIMIT_DATA, (limit, hard))
    except (ImportError, AttributeError, ValueError, OSError):
        return 0
    return limit


def _installed(names: set[str]) -> list[str]:
    """The installed packages (site-packages) among newly imported modules: what the zygote may
    import before it forks the next engine process (e.g. torch, which takes seconds)."""
    out = []
    for name in sorted(n for n in names if "." not in n):
        path = str(getattr(sys.modules.get(name), "__file__", None) or "")
        if "site-packages" in path or "dist-packages" in path:
            out.append(name)
    return out


def _graph_message(run: Any, alone: list, output: str) -> GraphAnswer:
    """The answer for one graph (conformance.subject.protocol.GraphAnswer), builtins only."""
    return GraphAnswer(
        values=[float(v) for v in run.values],
        crash=None if run.crash is None else (int(run.crash[0]), str(run.crash[1])),
        backward_error=run.backward_error,
        grads=None if run.grads is None else [float(g) for g in run.grads],
        repeat_error=run.repeat_error, repeat_node=int(run.repeat_node),
        alone=[_plain(a.result) for a in alone],  # (in alone_cases' order)
        output=output,
        repeat_grads=None if run.repeat_grads is None else [float(g) for g in run.repeat_grads])


def _plain(result: Any) -> tuple:
    """An op's result with builtin floats only (an adapter may hand back numpy scalars)."""
    value, grads, error = result
    if value.__class__ is float and error is None and grads.__class__ is tuple and all(
            g.__class__ is float for g in grads):
        return result  # type: ignore[no-any-return]
    return (float(value), None if grads is None else tuple(float(g) for g in grads),
            None if error is None else str(error))


def _die_with_parent() -> None:
    """On Linux, SIGKILL this process when the harness dies (a hung engine never reads EOF)."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except Exception:
            pass


def _engine_process(fds: list[int], mark_path: str) -> None:
    """The body of one engine process (forked by the zygote); never returns."""
    fd_in, fd_out, out = fds
    status = 0
    try:
        os.setsid()
        _die_with_parent()
        os.dup2(out, 1)
        os.dup2(out, 2)
        os.close(out)
        server = Server(fd_in, fd_out, mark_path)
        sys.stdout = sys.stderr = server.capture
        importlib.invalidate_caches()
        server.serve()
    except SystemExit as exc:  # what the interpreter would do with it
        code = exc.code
        status = code if isinstance(code, int) else (0 if code is None else 1)
    except BaseException:
        status = 70
    os._exit(status & 0xFF)


def zygote(sock_fd: int) -> None:
    """Fork a fresh engine process per request, from an interpreter that has imported the
    harness's engine-side modules and nothing of any engine run. Requests on the Unix socket:
    ``("fork", mark_path)`` with three file descriptors (requests in, answers out, output file)
    -> ``("pid", pid)``; ``("wait", pid, seconds)`` -> ``("status", returncode or None)``, in
    subprocess's convention (-N: killed by signal N); ``("preload", names)`` imports installed
    packages the engine imported (torch, for an engine that uses it) -> ``("done", None)``."""
    import socket

    from vetgrad.conformance.subject import execute  # noqa: F401 - preloaded for every fork

    sock = socket.socket(fileno=sock_fd)
    while True:
        try:
            data, fds, _, _ = socket.recv_fds(sock, 1 << 16, 3)
        except OSError:
            return
        if not data:
            return
        request = pickle.loads(data)
        if request[0] == P.FORK:
            pid = os.fork()
            if pid == 0:
                sock.close()
                _engine_process(fds, request[1])
            for fd in fds:
                os.close(fd)
            sock.sendall(pickle.dumps((P.PID, pid)))
        elif request[0] == P.WAIT:
            sock.sendall(pickle.dumps((P.STATUS, _wait(request[1], request[2]))))
        elif request[0] == P.PRELOAD:  # installed packages only, never the engine's own code
            for name in request[1]:
                with contextlib.suppress(BaseException):
                    importlib.import_module(name)
            sock.sendall(pickle.dumps((P.DONE, None)))


def _wait(pid: int, seconds: float) -> int | None:
    import time

    until = time.monotonic() + seconds
    while True:
        try:
            done, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return None
        if done:
            return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        if time.monotonic() > until:
            return None
        time.sleep(0.005)


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the harness stops the campaign, not the engine
    _die_with_parent()
    zygote(int(argv[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
