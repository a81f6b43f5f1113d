"""One contender in its own interpreter, timing graph rounds on request.

Why a process per contender: with the collector on, every full collection walks every tracked
object of the process. In one shared process, torch's import alone (about 170,000 objects) makes
each full collection of micrograd's or vetgrad's graphs several times longer, so a pure-Python
engine would pay for torch being loaded next to it. A worker holds only its own contender (plus
the workload code, which is frozen out of the collector before the contender is imported), the
way a user's program does. The parent (:class:`Workers`) asks the workers for rounds in turn, so
that a noisy machine slows every contender alike.

Protocol (``python -m vetgrad.benchmarks.worker NAME THREADS WORKLOADS [ENGINE]``, WORKLOADS a file
written by :func:`save_workloads`, or ``-`` for none; ENGINE the spec of a user's engine, the
contender then being ``contenders.user(ENGINE)`` called NAME): one JSON request per line on stdin, ``{"size": N,
"rounds": K, "gc": true}``; one JSON reply per line on stdout, ``{"samples": [[forward, backward,
free, value, grad], ...]}`` or ``{"failed": "message"}``. The MLP suite asks ``{"mlp": K}``:
K training steps, each from the initial weights (reset untimed); the reply is ``{"times": [...],
"loss": L, "params": [...]}`` (the last step's loss and updated weights, for the parent to check
against torch, which this process must not import) or ``{"failed" | "absent": "message"}``.
``{"load": true}`` loads the contender's engine without timing anything: ``{}`` or
``{"failed": "message"}``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import json
import marshal
import os
import pickle
import select
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path
from typing import Any, Sequence

from vetgrad.benchmarks import contenders, machine, mlp, workloads
from vetgrad.conformance.subject.adapters import EngineLoadError
from vetgrad.conformance.subject.spec import search_path


def error_text(exc: BaseException) -> str:
    """One line naming an exception, at most 90 characters (a cell of the report's tables)."""
    text = f"{type(exc).__name__}: {exc}".splitlines()[0]
    return text if len(text) <= 90 else text[:87] + "..."


def save_workloads(works: dict[int, workloads.Workload], path: Path) -> None:
    """Write ``works`` (by size) for workers to load: building a 100k-node DAG once, not per
    worker. The forward code travels as marshal data (same interpreter on both sides)."""
    rows = {}
    for size, work in works.items():
        fields = {f.name: getattr(work, f.name) for f in dataclasses.fields(work)}
        fn = fields.pop("forward")
        if fn.__closure__:
            raise ValueError(f"{work.title}: forward() has a closure; it cannot be shipped")
        rows[size] = (fields, marshal.dumps(fn.__code__))
    path.write_bytes(pickle.dumps(rows))


def load_workloads(path: Path) -> dict[int, workloads.Workload]:
    rows = pickle.loads(path.read_bytes())
    return {size: workloads.Workload(**fields, forward=types.FunctionType(
                marshal.loads(code), {"__builtins__": __builtins__}))
            for size, (fields, code) in rows.items()}


def serve(name: str, threads: int, works: dict[int, workloads.Workload],
          engine: str | None = None) -> None:
    """Answer requests on stdin until it closes."""
    # Replies get their own copy of stdout; anything else printed (a library, an engine) goes to
    # stderr, so it cannot be taken for a reply.
    replies = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    gc.collect()
    gc.freeze()  # the workload code is scaffolding, not part of any contender's heap
    c = contenders.get(name) if engine is None else \
        dataclasses.replace(contenders.user(engine), name=name)
    if c.family.startswith("torch"):
        machine.set_torch_threads(threads)
    number = c.number
    leaf: Any = None  # made at the first graph request: batched contenders build no scalar graphs
    sync: Any = None
    trainer: Any = None
    replayers: dict[int, Any] = {}  # compiled contenders: one per workload size
    for line in sys.stdin:
        request = json.loads(line)
        if request.get("settle"):
            gc.collect()  # between sizes, outside any clock
            print("{}", file=replies, flush=True)
            continue
        if request.get("load"):
            try:
                leaf, sync = c.leaf(), c.sync()
                answer: dict[str, Any] = {}
            except EngineLoadError as exc:
                answer = {"failed": str(exc)}
            except BaseException as exc:  # what the engine's own import raised (even SystemExit)
                answer = {"failed": f"cannot load: {error_text(exc)}"}
            print(json.dumps(answer), file=replies, flush=True)
            continue
        if "mlp" in request:
            if trainer is None:
                trainer = _MlpSteps(c)
            print(json.dumps(trainer.rounds(request["mlp"])), file=replies, flush=True)
            continue
        work = works[request["size"]]
        reply: dict[str, Any]
        was_enabled = gc.isenabled()
        if not request["gc"]:
            gc.disable()
        try:
            if c.compiled:
                if request["size"] not in replayers:
                    from vetgrad.benchmarks.compiled import Replayer

                    replayers[request["size"]] = Replayer(c.family, work)
                samples = [replayers[request["size"]].run() for _ in range(request["rounds"])]
            else:
                if leaf is None:
                    leaf, sync = c.leaf(), c.sync()
                with c.recursion_room(work.depth):
                    samples = [workloads.run(work, leaf, sync, number)
                               for _ in range(request["rounds"])]
            reply = {"samples": [[s.forward, s.backward, s.free, s.value, s.grad]
                                 for s in samples]}
        except RecursionError:
            reply = {"failed": f"RecursionError (graph depth {work.depth:,}; recursive "
                               "topological sort)"}
        except Exception as exc:  # a crashing engine is a row of the table
            reply = {"failed": error_text(exc)}
        finally:
            if was_enabled:
                gc.enable()
        print(json.dumps(reply), file=replies, flush=True)


class _MlpSteps:
    """The MLP suite's training steps of one contender, in this worker."""

    def __init__(self, c: contenders.Contender) -> None:
        self.c = c
        self.trainer: Any = None
        self.broken: dict[str, str] | None = None

    def rounds(self, k: int) -> dict[str, Any]:
        if self.broken is not None:
            return self.broken
        try:
            if self.trainer is None:
                self.trainer = mlp.trainer(self.c)
            t, times, out = self.trainer, [], None
            for _ in range(k):
                t.reset()
                start = time.perf_counter()
                out = t.step()
                times.append(time.perf_counter() - start)
            # Only the last step's result is kept: earlier graphs are freed as in a training loop.
            return {"times": times, "loss": t.loss(out), "params": t.parameters()}
        except ImportError as exc:
            self.broken = {"absent": f"absent ({error_text(exc)})"}
        except Exception as exc:  # a crashing engine is a row of the table
            self.broken = {"failed": error_text(exc)}
        return self.broken


class RowError(RuntimeError):
    """What a worker's contender did instead of a result: ``status`` is "failed" or "absent"."""

    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status


class Worker:
    """A running worker process for one contender. Any way it can break (dies, hangs, answers
    nonsense) becomes a RuntimeError naming the cause, and the worker is then dead for good."""

    REPLY_TIMEOUT = 900.0  # seconds; the longest single round (1M-node micrograd chain) is ~30 s

    def __init__(self, name: str, threads: int, works: Path | None,
                 engine: str | None = None) -> None:
        self.name = name
        self.dead: str | None = None
        command = [sys.executable, "-m", "vetgrad.benchmarks.worker", name, str(threads),
                   "-" if works is None else str(works), *([engine] if engine else [])]
        # stderr goes to a file: a pipe nobody reads could fill up and stall the worker.
        self.errors = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - closed by close()
        # A user's engine is looked up on this process's path, as the conformance harness does;
        # the built-in contenders are installed (vetgrad.*, micrograd, torch).
        first = search_path() if engine else ()
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            p for p in (*first, os.environ.get("PYTHONPATH", "")) if p)}
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=self.errors, text=True, env=env)

    def rounds(self, size: int, rounds: int, gc_enabled: bool = True) -> list[workloads.Sample]:
        """Run ``rounds`` timed rounds of the ``size`` workload (cyclic garbage a round leaves is
        collected during later ones, at their cost, as in a user's loop); RuntimeError if the
        engine failed (the message says how) or the worker broke."""
        reply = self._ask({"size": size, "rounds": rounds, "gc": gc_enabled})
        if "failed" in reply:
            raise RuntimeError(reply["failed"])
        return [workloads.Sample(*row) for row in reply["samples"]]

    def mlp_steps(self, rounds: int) -> tuple[list[float], float, list[float]]:
        """Time ``rounds`` MLP training steps: (seconds of each, the last loss, its weights)."""
        reply = self._ask({"mlp": rounds})
        for status in ("failed", "absent"):
            if status in reply:
                raise RowError(status, reply[status])
        return reply["times"], reply["loss"], reply["params"]

    def load(self) -> None:
        """Load the contender's engine (nothing timed); RuntimeError saying why it cannot be."""
        reply = self._ask({"load": True})
        if "failed" in reply:
            raise RuntimeError(reply["failed"])

    def settle(self) -> None:
        """Collect the worker's garbage, outside any clock."""
        self._ask({"settle": True})

    def _ask(self, request: dict[str, Any]) -> dict[str, Any]:
        if self.dead:
            raise RuntimeError(self.dead)
        proc = self.process
        assert proc.stdin is not None and proc.stdout is not None
        line, why = "", "died"
        try:
            proc.stdin.write(json.dumps(request) + "\n")
            proc.stdin.flush()
            ready, _, _ = select.select([proc.stdout], [], [], self.REPLY_TIMEOUT)
            if ready:
                line = proc.stdout.readline()
            else:
                why = f"gave no reply in {self.REPLY_TIMEOUT:.0f} s"
        except OSError:  # BrokenPipeError: it is gone
            pass
        if line:
            try:
                reply = json.loads(line)
                if isinstance(reply, dict):
                    return reply
            except ValueError:
                pass
            why = f"answered {line.strip()[:60]!r}"
        self.dead = f"worker for {self.name} {why}: {self._stderr_tail()}"
        raise RuntimeError(self.dead)

    def _stderr_tail(self) -> str:
        self.process.kill()
        self.process.wait()
        self.errors.seek(0)
        lines = [ln for ln in self.errors.read().splitlines() if ln.strip()]
        return lines[-1] if lines else f"exit status {self.process.returncode}"

    def close(self) -> None:
        """Stop the worker (politely: end of input) and release its files; never raises."""
        with contextlib.suppress(OSError):
            if self.process.stdin is not None:
                self.process.stdin.close()  # may flush a request a dead worker never read
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for stream in (self.process.stdout, self.errors):
            with contextlib.suppress(OSError):
                if stream is not None:
                    stream.close()


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) not in (3, 4):
        print("usage: python -m vetgrad.benchmarks.worker NAME THREADS WORKLOADS [ENGINE] "
              "(started by python -m vetgrad.benchmarks; reads JSON requests on stdin)", file=sys.stderr)
        return 2
    name, threads, path, *engine = args
    serve(name, int(threads), {} if path == "-" else load_workloads(Path(path)),
          engine[0] if engine else None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
