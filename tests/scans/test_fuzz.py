"""Fuzzing the scan reader: whatever the bytes, ``preprocess`` reads them or raises a ReadError.

The corpus (tests/scans/fuzz.py) is deterministic: small scans in every format and colour mode
the gateway accepts, header-only files, and mutants of each. A failure names the mutant, which
``fuzz.rebuild(name)`` makes again.
"""

from __future__ import annotations

import time

from contracts.errors import ReadError
from scans import preprocess
from tests.scans import fuzz

PER_SEED = 100


def test_every_mutant_is_read_or_refused_with_a_read_error():
    corpus = fuzz.corpus(PER_SEED)
    assert len(corpus) > 8000
    escaped: dict[str, str] = {}
    outcomes = {"read": 0, "refused": 0}
    started = time.perf_counter()
    for name, data in corpus:
        try:
            preprocess(data)
            outcomes["read"] += 1
        except ReadError as exc:
            assert str(exc), name  # every refusal says why
            outcomes["refused"] += 1
        except Exception as exc:  # noqa: BLE001 - what this test looks for
            escaped[name] = f"{type(exc).__name__}: {exc}"
    assert not escaped, f"{len(escaped)} escaped, e.g. {dict(list(escaped.items())[:5])}"
    # Each seed is read (the header-only files and the 20-byte PNG are refused), and mutants both ways.
    assert outcomes["read"] > 1000 and outcomes["refused"] > 3000
    assert time.perf_counter() - started < 60


def test_every_seed_that_has_pixels_is_read():
    for name, data in fuzz.seeds().items():
        if "header only" in name or "20 bytes" in name:
            continue
        digits = preprocess(data)
        assert len(digits.boxes) == 1, name
