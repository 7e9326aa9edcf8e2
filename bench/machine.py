"""What the benchmarks say about the machine they ran on, including how much of it they got.

These machines are virtual and shared: the hypervisor can take ("steal") a large share of the
CPU for other guests, which slows a run without any change in our code. Each benchmark prints
the share stolen while it ran, read from /proc/stat, beside its figures.
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from datetime import date
from pathlib import Path


@dataclass(frozen=True)
class CpuTimes:
    """Cumulative CPU time (in clock ticks, all cores) from /proc/stat: busy, idle and stolen."""

    busy: int
    idle: int
    steal: int


def cpu_times(stat: str = "/proc/stat") -> CpuTimes | None:
    """The machine's CPU times now; None where /proc/stat is not available."""
    try:
        fields = [int(v) for v in Path(stat).read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError, IndexError):
        return None
    # user nice system idle iowait irq softirq steal (guest time is already inside user).
    user, nice, system, idle, iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return CpuTimes(busy=user + nice + system + irq + softirq, idle=idle + iowait, steal=steal)


def steal_share(before: CpuTimes | None, after: CpuTimes | None) -> float | None:
    """The share of CPU time the hypervisor took between two readings (0..1)."""
    if before is None or after is None:
        return None
    total = (after.busy - before.busy) + (after.idle - before.idle) + (after.steal - before.steal)
    return (after.steal - before.steal) / total if total > 0 else None


def describe(steal: float | None = None) -> str:
    """One line: architecture, cores, CPU model, date, and the CPU share stolen if known."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = "; " + line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    stolen = f"; {steal:.0%} of the CPU stolen by the hypervisor during the run" if steal is not None else ""
    return f"{platform.machine()}, {os.cpu_count()} cores{model}; {date.today()}{stolen}"
