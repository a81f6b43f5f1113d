"""Reproducers run as a user runs them, before they are reported: each script as ``__main__`` in
a process of its own (forked from one runner that imported torch once, so a script costs
milliseconds, not torch's import), from a folder of its own in a temporary directory, with the
engine importable as the campaign imported it (its search path; a module made from source text
saved beside the script, as the script's comment asks), under a timeout. A script reproduces
when it exits 1 saying the engine differs from torch (or, for a finding whose engine process
died, when it dies too)."""

from __future__ import annotations

import contextlib
import json
import os
import select
import subprocess
import sys
import tempfile
import time
from typing import Any, Sequence

from vetgrad.conformance import interrupt

SCRIPT_TIMEOUT = 30.0  # seconds a reproducer may run
START_TIMEOUT = 120.0  # seconds the runner may take to import torch

# The runner: imports torch, then forks one child per script named on stdin ({"script", "output",
# "timeout"}), and answers each with the child's exit status (-N: killed by signal N; "timeout").
# It imports nothing of the harness: a script must find the engine (and vetgrad) by itself.
RUNNER = r'''
import json, os, runpy, signal, sys, time, traceback
signal.signal(signal.SIGINT, signal.SIG_IGN)  # the harness stops it (EOF on stdin)
signal.signal(signal.SIGTERM, signal.SIG_DFL)
import torch  # what every reproducer imports: once, before the forks
sys.stdout.write("ready\n")
sys.stdout.flush()
for line in sys.stdin:
    job = json.loads(line)
    folder = os.path.dirname(job["script"])
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.setpgid(0, 0)
            fd = os.open(job["output"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            os.close(fd)
            sys.stdin = open(os.devnull)
            sys.stdout, sys.stderr = open(1, "w", closefd=False), open(2, "w", closefd=False)
            os.chdir(folder)
            sys.path[0] = folder
            sys.argv = [job["script"]]
            runpy.run_path(job["script"], run_name="__main__")
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            if not isinstance(exc.code, (int, type(None))):
                print(exc.code, file=sys.stderr)
        except BaseException:
            traceback.print_exc()
            code = 1
        finally:
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(code)
    deadline = time.monotonic() + job["timeout"]
    status = None
    while status is None:
        done, raw = os.waitpid(pid, os.WNOHANG)
        if done:
            status = os.waitstatus_to_exitcode(raw)
        elif time.monotonic() > deadline:
            for kill in (lambda: os.killpg(pid, 9), lambda: os.kill(pid, 9)):
                try:
                    kill()
                except OSError:
                    pass
            os.waitpid(pid, 0)
            status = "timeout"
        else:
            time.sleep(0.002)
    sys.stdout.write(json.dumps(status) + "\n")
    sys.stdout.flush()
'''

DIFFERS = "the engine differs from torch"  # the script's closing line when it reproduces


class ScriptRunner:
    """Runs reproducers (see the module's docstring). Start it early (it imports torch in the
    background); :meth:`run` each script; :meth:`close` at the end. With ``fork`` (and torch
    already imported here) the runner is forked from this process instead: torch comes for
    free, and the harness's own modules are dropped from its sys.modules (:func:`_fork_runner`)."""

    def __init__(self, path: Sequence[str] = (), timeout: float = SCRIPT_TIMEOUT,
                 fork: bool = True) -> None:
        self.timeout = timeout
        self._dir = tempfile.TemporaryDirectory(prefix="vetgrad-reproducers-")
        self._count = 0
        self._ready = False
        self._proc: Any = None
        if fork and hasattr(os, "fork") and "torch" in sys.modules:
            self._proc = _fork_runner(path, self._dir.name)
        if self._proc is None:
            env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in path if p))
            env.pop("PYTHONSTARTUP", None)
            self._proc = subprocess.Popen(
                [sys.executable, "-c", RUNNER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL, cwd=self._dir.name, env=env, text=True)

    def _line(self, timeout: float) -> str | None:
        """The runner's next line (None: it died, was interrupted, or said nothing in time)."""
        proc = self._proc
        if proc is None or proc.stdout is None:
            return None
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0 or interrupt.requested():
                return None
            ready, _, _ = select.select([proc.stdout], [], [], min(left, 0.2))
            if ready:
                line = proc.stdout.readline()
                return line or None

    def run(self, script: str, sources: Sequence[tuple[str, str]] = ()) -> tuple[int | str, str]:
        """Run ``script`` (its text) with ``sources`` (``(module, source)``) saved beside it as
        ``module.py``: its exit status (-N: killed by signal N; ``"timeout"``; ``"no runner"``
        when the runner is gone) and what it printed."""
        if not self._ready:
            self._ready = self._line(START_TIMEOUT) == "ready\n"
            if not self._ready:
                self.close()
        proc = self._proc
        if proc is None or proc.stdin is None:
            return "no runner", ""
        self._count += 1
        folder = os.path.join(self._dir.name, str(self._count))
        os.mkdir(folder)
        for module, source in sources:
            with open(os.path.join(folder, f"{module}.py"), "w", encoding="utf-8") as fh:
                fh.write(source)
        path, output = os.path.join(folder, "reproducer.py"), os.path.join(folder, "output.txt")
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(script)
        try:
            proc.stdin.write(json.dumps({"script": path, "output": output, "timeout": self.timeout}) + "\n")
            proc.stdin.flush()
        except OSError:
            self.close()
            return "no runner", ""
        line = self._line(self.timeout + 10.0)
        if line is None:
            self.close()
            return "no runner", ""
        try:
            with open(output, encoding="utf-8", errors="replace") as fh:
                printed = fh.read()
        except OSError:
            printed = ""
        status = json.loads(line)
        return status, printed

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            with contextlib.suppress(OSError):
                if proc.stdin is not None:
                    proc.stdin.close()
            try:
                proc.wait(timeout=2.0)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
        self._dir.cleanup()

    def __enter__(self) -> ScriptRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# Modules of this process a forked runner drops, so that a script imports its own: the names learners
# give their engines' modules, the engines made from source or loaded by path, and the tests'.
# (vetgrad's own modules stay: all under ``vetgrad``, they are never a learner's.)
_HARNESS = ("engine", "nn", "conformance", "benchmarks", "micrograd", "tests", "_vetgrad_")


class _Forked:
    """A runner forked from this process, with the interface of the Popen it replaces."""

    def __init__(self, pid: int, stdin: Any, stdout: Any) -> None:
        self.pid, self.stdin, self.stdout = pid, stdin, stdout

    def wait(self, timeout: float | None = None) -> int:
        end = None if timeout is None else time.monotonic() + timeout
        while True:
            done, status = os.waitpid(self.pid, os.WNOHANG if end is not None else 0)
            if done:
                return os.waitstatus_to_exitcode(status)
            if end is not None and time.monotonic() > end:
                raise subprocess.TimeoutExpired("reproducer runner", timeout or 0.0)
            time.sleep(0.01)

    def kill(self) -> None:
        with contextlib.suppress(OSError):
            os.kill(self.pid, 9)


def _fork_runner(path: Sequence[str], folder: str) -> _Forked | None:
    """The runner as a child of this process (torch already imported: no second import). The
    child keeps only its two pipes of this process's files, drops the harness's modules
    (:data:`_HARNESS`: a learner's ``engine.py`` edited since must be read again), takes ``path`` as its search path and runs :data:`RUNNER`."""
    jobs_r, jobs_w = os.pipe()
    results_r, results_w = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        pid = os.fork()
    except OSError:
        for fd in (jobs_r, jobs_w, results_r, results_w):
            os.close(fd)
        return None
    if pid == 0:  # the runner
        try:
            os.dup2(jobs_r, 0)
            os.dup2(results_w, 1)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 2)
            os.closerange(3, 1 << 16)
            # the runner's own standard streams, for the rest of its life
            sys.stdin = open(0, closefd=False)  # noqa: SIM115
            sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
            sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
            for name in [m for m in sys.modules if m.split(".")[0] in _HARNESS or m.startswith("_vetgrad_")]:
                del sys.modules[name]
            sys.path[:] = ["", *path]
            os.chdir(folder)
            exec(compile(RUNNER, "<reproducer runner>", "exec"), {"__name__": "__main__"})
        finally:
            os._exit(0)
    os.close(jobs_r)
    os.close(results_w)
    return _Forked(pid, os.fdopen(jobs_w, "w"), os.fdopen(results_r))


def reproduces(status: int | str, printed: str, died: bool = False) -> bool:
    """Whether a script's run shows its finding: exit 1 saying the engine differs; for a finding
    whose engine process died (``died``), the script dying as well (a signal, or a status the
    engine exited with)."""
    if status == 1 and DIFFERS in printed:
        return True
    return died and isinstance(status, int) and status != 0 and DIFFERS not in printed \
        and "agrees with torch" not in printed
