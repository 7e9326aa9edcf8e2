"""Evaluation: MNIST test set, calibration, review thresholds and the scan-like set."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from trainer.calibrate import fit_temperature, review_table, softmax
from trainer.metrics import classification_metrics, expected_calibration_error
from trainer.scans import random_scan
from worker.errors import WorkerError
from worker.preprocess import preprocess

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


def evaluate_test(logits_fn: LogitsFn, x_test: np.ndarray, y_test: np.ndarray, temperature: float) -> tuple[dict, np.ndarray]:
    """Test-set metrics with calibrated probabilities; also returns those probabilities."""
    probabilities = softmax(logits_fn(x_test), temperature)
    metrics = classification_metrics(y_test, probabilities)
    metrics["review"] = review_table(probabilities, y_test)
    return metrics, probabilities


def evaluate_scans(logits_fn: LogitsFn, x_test: np.ndarray, y_test: np.ndarray,
                   count: int = 2000, seed: int = 0) -> dict[str, Any]:
    """Accuracy on scan-like images made from MNIST test digits, through the worker's preprocess."""
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(x_test), size=min(count, len(x_test)), replace=False)
    inputs, labels, failed = [], [], 0
    for index in picks:
        try:
            inputs.append(preprocess(random_scan(x_test[index], rng)))
            labels.append(int(y_test[index]))
        except WorkerError:
            failed += 1
    predicted = logits_fn(np.stack(inputs)).argmax(axis=1)
    correct = int((predicted == np.array(labels)).sum())
    return {
        "accuracy": round(correct / len(picks), 5),  # a scan that could not be read counts as wrong
        "count": int(len(picks)),
        "unreadable": failed,
        "description": "MNIST test digits as ink on grey paper, 30-300 px high, off-centre, rotated up to 8 deg, "
                       "uneven light, noise, blur and JPEG; through worker.preprocess.preprocess",
    }
