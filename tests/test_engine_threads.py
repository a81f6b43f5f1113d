"""Grad mode is per thread, as torch's: ``no_grad`` and ``grad()`` in one thread never change what
another thread records, under any interleaving."""

from __future__ import annotations

import math
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import vetgrad.engine.value as value_module
from vetgrad.engine import Value, enable_grad, grad, is_grad_enabled, no_grad


@contextmanager
def _switching_often() -> Iterator[None]:
    """Let the GIL change threads every microsecond, so that every interleaving gets its turn."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(interval)


def _run(*targets: Callable[[], None]) -> None:
    threads = [threading.Thread(target=t) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def _one_graph(i: int, me: int) -> int:
    """One graph, back-propagated, then no_grad or grad(): 1 if any result came out wrong."""
    x = Value(0.25 + (i % 8) / 8)
    y = x * x + x.tanh()
    y.backward()
    expected = 2 * x.data + (1 - math.tanh(x.data)) * (1 + math.tanh(x.data))
    wrong = abs(x.grad - expected) > 1e-12
    if (i + me) % 2:
        with no_grad():
            wrong += (x * x)._a is not None or is_grad_enabled()
            with enable_grad():
                wrong += (x * x)._a is None
    else:
        (g,) = grad(y, [x], create_graph=bool(i % 4))
        wrong += abs(g.data - expected) > 1e-12 or (g._a is None) == bool(i % 4)
    return int(wrong > 0)


def _stress(me: int, graphs: int, start: threading.Barrier, report: dict[int, tuple[int, bool]]) -> None:
    """Build and back-propagate ``graphs`` graphs; every other one, toggle no_grad or call grad()."""
    wrong = 0
    start.wait()
    for i in range(graphs):
        try:
            wrong += _one_graph(i, me)
        except Exception:  # e.g. grad() finding no path: the graph was built without history
            wrong += 1
    report[me] = (wrong, is_grad_enabled())


def test_two_threads_toggling_grad_mode_compute_no_wrong_gradient() -> None:
    graphs = 20_000
    start, report = threading.Barrier(2), {}
    with _switching_often():
        _run(*(lambda me=me: _stress(me, graphs, start, report) for me in (0, 1)))
    assert report == {0: (0, True), 1: (0, True)}  # zero wrong gradients; grad mode restored
    assert is_grad_enabled() and value_module._grad_enabled and value_module._threads_off == 0


def _step(events: list[threading.Event], wait: int, then: int) -> None:
    events[wait].wait()
    events[then].set()


def test_overlapping_no_grad_blocks_in_two_threads_leave_recording_on() -> None:
    ev = [threading.Event() for _ in range(4)]

    def first() -> None:  # enters first, leaves first
        with no_grad():
            ev[0].set()
            ev[1].wait()
        ev[2].set()

    def second() -> None:
        ev[0].wait()
        with no_grad():
            ev[1].set()
            ev[2].wait()

    _run(first, second)
    a = Value(3.0)
    (a * a).backward()
    assert a.grad == 6.0 and value_module._grad_enabled


def test_a_thread_records_while_another_is_inside_no_grad() -> None:
    inside, done = threading.Event(), threading.Event()
    seen: list[object] = []

    def quiet() -> None:
        with no_grad():
            inside.set()
            done.wait()
            seen.append((Value(1.0) * 2.0)._a)

    def busy() -> None:
        inside.wait()
        a = Value(3.0)
        (a * a).backward()
        seen.append(a.grad)
        done.set()

    _run(quiet, busy)
    assert seen == [6.0, None]


def test_a_new_thread_records_even_when_started_inside_no_grad() -> None:
    modes: list[bool] = []
    with no_grad():
        _run(lambda: modes.append(is_grad_enabled()))  # torch's mode is not inherited either
        modes.append(is_grad_enabled())
    assert modes == [True, False] and is_grad_enabled()
