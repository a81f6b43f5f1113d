"""``python -m vetgrad.benchmarks`` is never silent on stderr: a line per step, then a status line every
few seconds off a terminal, a redrawn live line on one."""

from __future__ import annotations

import io
import time

from vetgrad.benchmarks.progress import Heartbeat


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_long_step_gets_status_lines_off_a_terminal() -> None:
    out = io.StringIO()
    with Heartbeat(out, interval=0.05) as beat:
        beat.say("dag 100,000: vetgrad")
        time.sleep(0.3)
    lines = out.getvalue().splitlines()
    assert lines[0].endswith("] dag 100,000: vetgrad") and "\r" not in out.getvalue()
    assert len(lines) >= 3 and all("… dag 100,000: vetgrad (" in line for line in lines[1:])


def test_nothing_before_the_first_step() -> None:
    out = io.StringIO()
    with Heartbeat(out, interval=0.05):
        time.sleep(0.2)
    assert out.getvalue() == ""


def test_on_a_terminal_the_status_is_redrawn_in_place() -> None:
    out = _Tty()
    with Heartbeat(out) as beat:
        beat.say("mlp: vetgrad")
        time.sleep(1.2)
    text = out.getvalue()
    assert text.count("\r\x1b[K") >= 3 and "… mlp: vetgrad (" in text
    assert text.endswith("\r\x1b[K")  # the live line is cleared at the end
