"""The arithmetic the model server computes in.

Models are exported in float32, so that any CPU (and TF Serving) can run them. On CPUs with
native bfloat16 (AVX512-BF16, AMX) the server can still compute in bfloat16: TensorFlow's
oneDNN auto-mixed-precision pass rewrites the loaded graph; the signature's inputs and
outputs stay float32, and so do the ops on the pass's deny list. The model was trained in
mixed bfloat16 on such CPUs, and its answers are unchanged (BENCHMARKS.md has the figures);
a 256-image batch runs 2.3-2.6x faster, a single image 0.5-1 ms slower.
"""

from __future__ import annotations

import logging

from core.cpu import has_native_bfloat16

PRECISIONS = ("auto", "float32", "bfloat16")
log = logging.getLogger(__name__)


def resolve_precision(setting: str, cpuinfo: str = "/proc/cpuinfo") -> str:
    """``float32`` or ``bfloat16`` for a setting; ``auto`` picks bfloat16 only where the CPU has it."""
    if setting not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {setting!r}")
    if setting == "auto":
        return "bfloat16" if has_native_bfloat16(cpuinfo) else "float32"
    return setting


def use_precision(precision: str) -> None:
    """Make this process run the graphs it loads from now on in ``precision``.

    A process-wide TensorFlow option: call it before loading models, in the server process only.
    """
    import tensorflow as tf

    if precision == "bfloat16" and not has_native_bfloat16():
        log.warning("bfloat16 asked for, but this CPU has no native bfloat16: expect it to be slower")
    tf.config.optimizer.set_experimental_options({"auto_mixed_precision_onednn_bfloat16": precision == "bfloat16"})
