"""The supervisor of `digits up`, on real child processes."""

from __future__ import annotations

import io
import os
import signal
import sys
import time

import pytest

from digits.processes import spawn
from digits.supervise import GaveUpError, Supervisor


def _sleeper(log):
    return lambda: spawn([sys.executable, "-c", "import time; time.sleep(300)"], log)


def _until(supervisor, condition, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        supervisor.check()
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached")


def test_a_killed_child_is_started_again_with_growing_delays(tmp_path):
    out = io.StringIO()
    supervisor = Supervisor(out, first_delay=0.2, max_delay=1.0, quick_exit=0.0)
    first = supervisor.add("worker-1", _sleeper(tmp_path / "w.log"), tmp_path / "w.log")
    child = supervisor.children[0]
    try:
        os.kill(first.pid, signal.SIGKILL)
        _until(supervisor, lambda: child.restarts == 1)
        assert child.proc.pid != first.pid and child.proc.poll() is None
        assert "worker-1 exited with signal SIGKILL; starting it again in 0 s" in out.getvalue()
        assert child.delay == pytest.approx(0.4)  # the next death waits longer
        os.kill(child.proc.pid, signal.SIGKILL)
        _until(supervisor, lambda: child.restarts == 2)
        assert child.delay == pytest.approx(0.8)
    finally:
        supervisor.stop()
    assert child.proc.poll() is not None


def test_a_child_that_cannot_start_stops_the_stack_with_its_log(tmp_path):
    log = tmp_path / "serving.log"
    supervisor = Supervisor(io.StringIO(), first_delay=0.01, quick_exit=10.0, give_up_after=3)
    supervisor.add("model server", lambda: spawn([sys.executable, "-c", "print('port in use'); raise SystemExit(3)"],
                                                 log), log)
    try:
        with pytest.raises(GaveUpError, match=r"(?s)model server exited 3 times .* code 3\).*port in use"):
            _until(supervisor, lambda: False)
    finally:
        supervisor.stop()
