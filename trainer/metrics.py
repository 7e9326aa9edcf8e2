"""Evaluation metrics written to metrics.json."""

from __future__ import annotations

from typing import Any

import numpy as np


def classification_metrics(labels: np.ndarray, probabilities: np.ndarray) -> dict[str, Any]:
    """Accuracy, per-class precision and recall, confusion matrix and ECE."""
    predicted = probabilities.argmax(axis=1)
    confusion = np.zeros((10, 10), dtype=np.int64)
    np.add.at(confusion, (labels.astype(np.int64), predicted), 1)
    true_pos = np.diag(confusion).astype(np.float64)
    precision = true_pos / np.maximum(confusion.sum(axis=0), 1)
    recall = true_pos / np.maximum(confusion.sum(axis=1), 1)
    return {
        "accuracy": float(true_pos.sum() / max(len(labels), 1)),
        "count": int(len(labels)),
        "errors": int(len(labels) - true_pos.sum()),
        "per_class": {
            str(d): {"precision": round(float(precision[d]), 5), "recall": round(float(recall[d]), 5)}
            for d in range(10)
        },
        "confusion_matrix": confusion.tolist(),
        "ece": expected_calibration_error(labels, probabilities),
    }


def expected_calibration_error(labels: np.ndarray, probabilities: np.ndarray, bins: int = 15) -> float:
    """ECE with equal-width confidence bins (Guo et al., 2017)."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    ece = 0.0
    for low, high in zip(edges[:-1], edges[1:]):
        in_bin = (confidence > low) & (confidence <= high)
        if in_bin.any():
            ece += in_bin.mean() * abs(correct[in_bin].mean() - confidence[in_bin].mean())
    return float(ece)
