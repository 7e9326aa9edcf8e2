"""Evaluation: MNIST test set, calibration, review thresholds and the scan-like set."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from contracts.errors import ReadError
from scans import Digits, preprocess
from scans.generate import KINDS, scan_set
from trainer.calibrate import fit_temperature, review_table, softmax
from trainer.metrics import classification_metrics, expected_calibration_error

LogitsFn = Callable[[np.ndarray], np.ndarray]


def calibrate(logits_fn: LogitsFn, x_val: np.ndarray, y_val: np.ndarray) -> dict[str, Any]:
    """Fit the temperature on the held-out validation split."""
    logits = logits_fn(x_val)
    temperature = fit_temperature(logits, y_val)
    return {
        "temperature": round(temperature, 4),
        "fitted_on": "validation split",
        "validation_ece_before": round(expected_calibration_error(y_val, softmax(logits)), 5),
        "validation_ece_after": round(expected_calibration_error(y_val, softmax(logits, temperature)), 5),
    }


def evaluate_test(logits_fn: LogitsFn, x_test: np.ndarray, y_test: np.ndarray,
                  temperature: float) -> tuple[dict, np.ndarray]:
    """Test-set metrics with calibrated probabilities; also returns those probabilities."""
    probabilities = softmax(logits_fn(x_test), temperature)
    metrics = classification_metrics(y_test, probabilities)
    metrics["review"] = review_table(probabilities, y_test)
    return metrics, probabilities


def read_scans(blobs: list[bytes], logits_fn: LogitsFn) -> list[str | None]:
    """Read scans the way the worker does: preprocess, one model call for all digits, join.

    A scan that preprocessing rejects reads as None.
    """
    digits: list[Digits | None] = []
    for blob in blobs:
        try:
            digits.append(preprocess(blob))
        except ReadError:
            digits.append(None)
    images = [d.images for d in digits if d is not None]
    if not images:
        return [None] * len(blobs)
    classes = iter(logits_fn(np.concatenate(images)).argmax(axis=1))
    return [None if d is None else "".join(str(next(classes)) for _ in d.images) for d in digits]


def evaluate_scans(logits_fn: LogitsFn, x_test: np.ndarray, y_test: np.ndarray,
                   count: int = 2000, seed: int = 0) -> dict[str, Any]:
    """Exact-match accuracy on scan-like images made from MNIST test digits, per kind."""
    report: dict[str, Any] = {}
    for kind in KINDS:
        scans = list(scan_set(x_test, y_test, kind, count, seed))
        read = read_scans([blob for blob, _ in scans], logits_fn)
        report[kind] = {
            # A scan that could not be read, or read with the wrong number of digits, is wrong.
            "accuracy": round(float(np.mean([got == want for got, (_, want) in zip(read, scans)])), 5),
            "count": len(scans),
            "unreadable": sum(got is None for got in read),
        }
    report["accuracy"] = report["single"]["accuracy"]
    report["description"] = SCAN_DESCRIPTION
    return report


SCAN_DESCRIPTION = (
    "MNIST test digits as ink on grey paper, off-centre, rotated up to 8 deg, uneven light, noise, "
    "blur and JPEG: single digits 30-300 px high, digits in printed boxes, and 2-6 digit numbers "
    "(exact match); read through scans.preprocess"
)
