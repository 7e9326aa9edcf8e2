"""What the CPU computes natively, read from ``/proc/cpuinfo``.

The trainer and the model server both run faster in bfloat16, but only where the CPU has it
in hardware (AVX512-BF16 or AMX); elsewhere oneDNN would emulate it, slower than float32.
"""

from __future__ import annotations

from pathlib import Path

NATIVE_BFLOAT16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


def has_native_bfloat16(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """True when the CPU flags include AVX512-BF16 or AMX-BF16; False if they cannot be read."""
    try:
        flags = Path(cpuinfo).read_text().split()
    except OSError:
        return False
    return bool(NATIVE_BFLOAT16_FLAGS & set(flags))
