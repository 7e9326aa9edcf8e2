"""Keep the stack's processes running: a child that dies is started again, with backoff.

``digits up`` runs Redis, the model server, the workers and the gateway as children. One of
them dying (killed, out of memory, a crash) must not take the others down: it is logged and
started again after 1 s, then 2, 4, ... up to 30 s while it keeps dying, and the delay resets
once it has run for a minute. Only a child that cannot start at all (it dies within
``QUICK_EXIT`` seconds, ``GIVE_UP_AFTER`` times in a row: a taken port, a broken install)
stops the stack, with the end of its log.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from digits.processes import stop_all, tail

FIRST_DELAY = 1.0
MAX_DELAY = 30.0
HEALTHY_AFTER = 60.0
QUICK_EXIT = 10.0
GIVE_UP_AFTER = 5


@dataclass
class Child:
    """One supervised process and its restart bookkeeping."""

    name: str
    start: Callable[[], subprocess.Popen]
    log: Path
    proc: subprocess.Popen
    delay: float
    started: float = field(default_factory=time.monotonic)
    restarts: int = 0
    quick_exits: int = 0
    restart_at: float | None = None


class GaveUpError(RuntimeError):
    """A child kept dying as soon as it started; the message says which and why."""


class Supervisor:
    """Starts children, restarts the ones that die, and stops them all in reverse order."""

    def __init__(self, stream: TextIO | None = None, first_delay: float = FIRST_DELAY, max_delay: float = MAX_DELAY,
                 quick_exit: float = QUICK_EXIT, give_up_after: int = GIVE_UP_AFTER):
        self.children: list[Child] = []
        self.stream = stream or sys.stderr
        self.first_delay, self.max_delay = first_delay, max_delay
        self.quick_exit, self.give_up_after = quick_exit, give_up_after

    def add(self, name: str, start: Callable[[], subprocess.Popen], log: Path) -> subprocess.Popen:
        """Start a child now and keep it running; returns its first process."""
        proc = start()
        self.children.append(Child(name, start, log, proc, delay=self.first_delay))
        return proc

    def check(self, now: float | None = None) -> None:
        """One pass: notice children that died and start the ones whose delay is over."""
        now = time.monotonic() if now is None else now
        for child in self.children:
            if child.restart_at is None and child.proc.poll() is not None:
                self._died(child, now)
            elif child.restart_at is not None and now >= child.restart_at:
                child.proc = child.start()
                child.started, child.restart_at = now, None
                child.restarts += 1
                self._say(f"{child.name} started again (restart {child.restarts})")

    def watch(self, interval: float = 0.5) -> None:
        """Check every ``interval`` seconds, for ever; raises GaveUpError."""
        while True:
            self.check()
            time.sleep(interval)

    def stop(self) -> None:
        """Stop every child, the last started first."""
        stop_all([child.proc for child in self.children])

    def _died(self, child: Child, now: float) -> None:
        code = child.proc.returncode
        # Whatever the dead process left in its group (an RQ scheduler it forked) goes too.
        _kill_group(child.proc)
        ran = now - child.started
        if ran >= HEALTHY_AFTER:
            child.delay = self.first_delay
        child.quick_exits = child.quick_exits + 1 if ran < self.quick_exit else 0
        if child.quick_exits >= self.give_up_after:
            raise GaveUpError(f"{child.name} exited {child.quick_exits} times within {self.quick_exit:.0f} s of "
                              f"starting (last code {code}); giving up{tail(child.log)}")
        self._say(f"{child.name} exited with {_describe(code)}; starting it again in {child.delay:.0f} s "
                  f"(log: {child.log})")
        child.restart_at = now + child.delay
        child.delay = min(child.delay * 2, self.max_delay)

    def _say(self, text: str) -> None:
        self.stream.write(f"{time.strftime('%H:%M:%S')} {text}\n")
        self.stream.flush()


def _describe(code: int) -> str:
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"code {code}"


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
