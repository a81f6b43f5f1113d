"""The engine's own process, seen from the harness: start it (a zygote forks it), load the engine
there, send it plain-data requests and read its answers under a deadline enforced from outside,
and say how a lost process ended (exit status, signal, no answer). :mod:`conformance.subject.session`
builds the engine session (graphs, probe, derivatives) on top of it."""

from __future__ import annotations

import contextlib
import os
import pickle
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from typing import Any, Sequence

from vetgrad.conformance import interrupt
from vetgrad.conformance.subject import protocol as P  # noqa: N812
from vetgrad.conformance.subject.adapters import MICROGRAD, EngineLoadError, NodeSpelling
from vetgrad.conformance.subject.address import EngineRef
from vetgrad.conformance.subject.execute import GRAPH_TIMEOUT, EngineFailureError
from vetgrad.conformance.subject.protocol import HEADER, MARK, MAX_MESSAGE, GraphAnswer, LoadAnswer
from vetgrad.conformance.subject.spec import USER_PREFIX, EngineSpec

try:
    import fcntl
except ImportError:  # not POSIX: pipes keep the OS's size
    fcntl = None  # type: ignore[assignment]

LOAD_TIMEOUT = 60.0  # seconds, at least, to import the engine (importing torch alone takes ~2 s)
PIPE_SIZE = 1 << 20  # bytes of each pipe's buffer, where the OS lets us (Linux's default maximum)
# Seconds a closed engine process may take to exit of itself before it is killed (default 0: at
# once). benchmarks.callgrind_harness sets it, so that valgrind can write the process's counts.
EXIT_GRACE = float(os.environ.get("VETGRAD_ENGINE_EXIT_GRACE", "0") or 0)


def default_memory_limit() -> int:
    """Bytes of data an engine's process may hold by default: half this machine's memory, at most
    8 GiB (a 30-node graph needs kilobytes; torch imported, ~0.25 GiB)."""
    cap = 8 << 30
    try:
        physical = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return cap
    return min(cap, physical // 2) if physical > 0 else cap


class _LostError(Exception):
    """The process died, hung or broke the protocol; the text says how."""


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


# The starter runs vetgrad.conformance.subject.server from the installed package, with `python -c`'s
# current folder dropped from sys.path: the engine's spec brings the folders its imports need.
_ZYGOTE = ("import sys; sys.path[:1] = []; import runpy; "
           "runpy.run_module('vetgrad.conformance.subject.server', run_name='__main__')")


_PRESTARTED: list[tuple[subprocess.Popen, socket.socket, tuple[str, str]]] = []


def _where() -> tuple[str, str]:
    """What a starter inherits that decides which engine a spec finds: the folder and PYTHONPATH."""
    return os.getcwd(), os.environ.get("PYTHONPATH", "")


def _spawn_zygote() -> tuple[subprocess.Popen, socket.socket]:
    """A new engine-process starter (a fresh interpreter: conformance.subject.server.zygote) and its socket."""
    mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    proc = subprocess.Popen(
        [sys.executable, "-c", _ZYGOTE, str(theirs.fileno())],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        pass_fds=(theirs.fileno(),), start_new_session=True, cwd=os.getcwd())
    theirs.close()
    return proc, mine


def prestart() -> None:
    """Start an engine-process starter now, for the first session to take: its interpreter boots
    while this one imports torch (a campaign's verdict comes that much sooner). Unused, it exits
    with this process (its socket closes)."""
    if not _PRESTARTED:
        _PRESTARTED.append((*_spawn_zygote(), _where()))


class EngineProcess:
    """One engine process at a time, started on demand and replaced when it is lost."""

    def __init__(self, spec: EngineSpec, timeout: float | None = GRAPH_TIMEOUT,
                 memory_limit: int | None = None) -> None:
        """``memory_limit``: bytes of data the engine's process may hold (None: the default,
        :func:`default_memory_limit`; 0: no cap)."""
        self.spec, self.timeout = spec, timeout
        self.memory_limit = default_memory_limit() if memory_limit is None else memory_limit
        self.name, self.supports_higher_order = spec.target, False
        self.ref = EngineRef("value", spec.target)  # what a reproducer imports (set by start)
        self.proc: bool | None = None  # an engine process is running (forked by the zygote)
        self.pid = 0
        self._status: int | None = None
        self._zproc: subprocess.Popen | None = None
        self._zsock: socket.socket
        self._preloaded = False
        self.generation = 0
        self._dir = tempfile.TemporaryDirectory(prefix="vetgrad-engine-")

    # -- the process ------------------------------------------------------------------------

    def _zygote(self) -> socket.socket:
        """The process that forks engine processes (started once, again if it is lost; the one
        :func:`prestart` started, if any, first)."""
        if self._zproc is not None and self._zproc.poll() is None:
            return self._zsock
        self._preloaded = False
        while _PRESTARTED:
            proc, sock, where = _PRESTARTED.pop()
            if proc.poll() is None and where == _where():  # (started in this folder, with this path)
                self._zproc, self._zsock = proc, sock
                return sock
            with contextlib.suppress(OSError):
                sock.close()  # (it exits at the end of its socket)
        self._zproc, self._zsock = _spawn_zygote()
        return self._zsock

    def _zask(self, request: tuple, fds: Sequence[int] = ()) -> Any:
        """The starter's answer to ``request``; EngineLoadError when the starter is gone (an
        engine can kill its parent): it is replaced at the next request."""
        sock = self._zygote()
        try:
            socket.send_fds(sock, [pickle.dumps(request)], list(fds))
            data = sock.recv(1 << 16)
            if not data:
                raise EOFError
            return P.unpickle_answer(data)[1]
        except (OSError, EOFError, pickle.UnpicklingError, IndexError, TypeError) as exc:
            self._drop_zygote()
            raise EngineLoadError(f"the harness's engine-process starter died "
                                  f"({type(exc).__name__})") from None

    def _drop_zygote(self) -> None:
        """Forget a starter that stopped answering (killed and reaped; the next request starts
        another)."""
        if self._zproc is not None:
            with contextlib.suppress(OSError):
                self._zsock.close()
            with contextlib.suppress(OSError):
                self._zproc.kill()
            with contextlib.suppress(OSError, subprocess.TimeoutExpired):
                self._zproc.wait(timeout=2.0)
            self._zproc = None

    def start(self) -> None:
        """Start a fresh process and load the engine in it (EngineLoadError if it cannot)."""
        self.close_process()
        self.generation += 1
        folder = self._dir.name
        self._mark_path = os.path.join(folder, f"mark{self.generation}")
        with open(self._mark_path, "wb") as fh:
            fh.write(bytes(MARK.size))
        self._out_path = os.path.join(folder, f"out{self.generation}")
        to_child, from_parent = os.pipe()
        to_parent, from_child = os.pipe()
        for fd in (to_child, to_parent):  # a batch's answers fit while the harness is busy
            with contextlib.suppress(AttributeError, OSError):  # Linux only; else 64 KiB
                fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
        out = os.open(self._out_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            try:
                self.pid = self._zask((P.FORK, self._mark_path), (to_child, from_child, out))
            except EngineLoadError:  # the starter died (killed by the last engine?): a fresh one
                self.pid = self._zask((P.FORK, self._mark_path), (to_child, from_child, out))
        finally:
            for fd in (to_child, from_child, out):
                os.close(fd)
        self.proc = True
        self._w, self._r = from_parent, to_parent
        try:
            timeout, self.timeout = self.timeout, max(self.timeout or 0.0, LOAD_TIMEOUT)
            try:
                loaded = self._ask((P.LOAD, vars(self.spec), self.memory_limit), "loading the engine")
                if not isinstance(loaded, LoadAnswer):
                    raise _LostError("the engine's process broke the protocol loading the engine")
                self.name, self.supports_higher_order = loaded.name, loaded.supports_higher_order
                installed, (kind, target, spelled) = loaded.installed, loaded.ref
                made = {name: file for name, _, file in self.spec.sources}
                module = target.partition(":")[0]
                self.ref = EngineRef(str(kind), str(target), module in made,
                                     made[module] if module.startswith(USER_PREFIX) else "",
                                     NodeSpelling.from_json(spelled) if spelled else MICROGRAD)
            finally:
                self.timeout = timeout
            if installed and not self._preloaded:
                self._zask((P.PRELOAD, list(installed)))
                self._preloaded = True
        except _LostError as exc:
            self.close_process()
            raise EngineLoadError(f"cannot load the engine: {exc}") from None
        except EngineFailureError as exc:
            self.close_process()
            raise EngineLoadError(str(exc).removeprefix("EngineLoadError: ")) from None

    def close_process(self) -> None:
        """Kill the current engine process, if any, and reap it."""
        if not self.proc:
            return
        self.proc = None
        for fd in (self._w, self._r):
            with contextlib.suppress(OSError):
                os.close(fd)
        if self._status is None and EXIT_GRACE > 0:  # it reads EOF and exits of itself
            with contextlib.suppress(OSError, EngineLoadError):
                self._status = self._zask((P.WAIT, self.pid, EXIT_GRACE))
        if self._status is None:
            with contextlib.suppress(OSError):
                os.killpg(self.pid, signal.SIGKILL)
            with contextlib.suppress(OSError):
                os.kill(self.pid, signal.SIGKILL)
            with contextlib.suppress(EngineLoadError):  # (a starter that died took it along)
                self._zask((P.WAIT, self.pid, 5.0))
        self._status = None

    def close(self) -> None:
        self.close_process()
        if self._zproc is not None:
            with contextlib.suppress(OSError):
                self._zsock.close()
            try:
                self._zproc.wait(timeout=2.0)
            except subprocess.TimeoutExpired:
                self._zproc.kill()
                self._zproc.wait()
            self._zproc = None
        self._dir.cleanup()

    def fresh(self) -> EngineProcess:
        """This engine in a process that has run nothing yet (the next request starts it)."""
        self.close_process()
        return self

    def _ensure(self) -> None:
        if self.proc is None:
            self.start()

    # -- messages -----------------------------------------------------------------------------

    def _send(self, message: Any) -> None:
        data = P.frame(message)
        try:
            P.write_all(self._w, data)
        except OSError:
            raise _LostError(self._death()) from None

    def _read(self, n: int, until: float | None, doing: str) -> bytes:
        chunks = []
        while n:
            wait = 0.25 if until is None else min(0.25, until - time.monotonic())
            if wait <= 0:
                raise _LostError(f"no answer within {self.timeout:g} s {doing}".rstrip())
            ready, _, _ = select.select([self._r], [], [], wait)
            if interrupt.requested():
                raise interrupt.Interrupted()
            if not ready:
                continue
            chunk = os.read(self._r, min(n, 1 << 20))
            if not chunk:
                raise _LostError(f"{self._death()} {doing}".rstrip())
            chunks.append(chunk)
            n -= len(chunk)
        return b"".join(chunks)

    def _receive(self, doing: str) -> Any:
        until = None if not self.timeout else time.monotonic() + self.timeout
        (n,) = HEADER.unpack(self._read(HEADER.size, until, doing))
        if n > MAX_MESSAGE:
            raise _LostError(f"the engine's process broke the protocol (a {n}-byte message) {doing}")
        body = self._read(n, until, doing)
        try:
            message = P.unpickle_answer(body)
        except Exception as exc:
            raise _LostError(f"the engine's process broke the protocol ({exc}) {doing}") from None
        if isinstance(message, GraphAnswer):
            return message
        if not isinstance(message, tuple) or not message:
            raise _LostError(f"the engine's process broke the protocol {doing}")
        if message[0] == P.FATAL:
            raise _LostError(f"{message[1]} {doing}")
        return message

    def _ask(self, request: tuple, doing: str) -> Any:
        """Send one request, read its answer: ``x`` of ``("ok", x)``; EngineFailureError otherwise."""
        self._send(request)
        message = self._receive(doing)
        if message[0] == P.OK and len(message) == 2:
            return message[1]
        if message[0] == P.ERROR:
            raise EngineFailureError(str(message[1]))
        raise _LostError(f"the engine's process broke the protocol {doing}")

    def _death(self) -> str:
        """How the process ended (it closed its pipe: it is dying, or wait a little)."""
        try:
            status = self._zask((P.WAIT, self.pid, 2.0))
        except EngineLoadError:
            return "the engine's process was lost with the harness's process starter (killed it?)"
        if status is None:
            return "the engine closed the harness's pipe"
        self._status = status
        if status < 0:
            return f"the engine was killed by {_signal_name(-status)}"
        return f"the engine exited with status {status}"

    def _where_now(self) -> tuple[int, int, int]:
        """(graph, node, phase) the engine's process last marked; (-2, -1, -1) when unknown."""
        try:
            with open(self._mark_path, "rb") as fh:
                return MARK.unpack(fh.read(MARK.size))
        except (OSError, AttributeError, struct.error):
            return (-2, -1, -1)

    def output(self, limit: int = 240) -> str:
        """The head of what the current (or last) process printed."""
        try:
            with open(self._out_path, "rb") as fh:
                data = fh.read(limit + 1)
        except (OSError, AttributeError):
            return ""
        text = data[:limit].decode("utf-8", "replace")
        return text + ("..." if len(data) > limit else "")

    def _lost(self, exc: _LostError) -> str:
        """The verdict text of a lost process; the process is gone afterwards."""
        text = str(exc)
        printed = self.output()
        self.close_process()
        return text + (f"; it printed {printed!r}" if printed else "")

    # -- the session API (as LocalEngine's) -----------------------------------------------
