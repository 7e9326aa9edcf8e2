"""Keeping the console for the user: TensorFlow's own chatter goes to a log.

TensorFlow writes its start-up notices (CUDA probing, oneDNN, absl) from C++ straight to file
descriptor 2, where no Python setting can stop them. :func:`quiet_native_output` points that
descriptor at a log file for the duration of a run, so the console shows only our progress
(on stdout) and our errors; ``--verbose`` leaves everything on the console. No TensorFlow is
imported here: the redirection must be in place before it is.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO


@contextlib.contextmanager
def quiet_native_output(log_path: Path, verbose: bool = False) -> Iterator[TextIO]:
    """Send file descriptor 2 (TensorFlow's C++ logs, Python warnings) to ``log_path``.

    Yields a stream on the real stderr, for messages the user must see.
    """
    if verbose:
        yield sys.stderr
        return
    log_path.parent.mkdir(parents=True, exist_ok=True)
    sys.stderr.flush()
    saved = os.dup(2)
    with open(log_path, "ab") as log:
        log.write(f"\n--- {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(sys.argv)}\n".encode())
        log.flush()
        os.dup2(log.fileno(), 2)
    real = os.fdopen(os.dup(saved), "w", buffering=1)
    try:
        yield real
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        real.close()
