"""Temperature scaling (Guo et al., 2017) and the needs_review operating points."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.optimize import minimize_scalar

REVIEW_THRESHOLDS = (0.5, 0.8, 0.9, 0.95, 0.99)


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    scaled = logits / temperature
    scaled = scaled - scaled.max(axis=1, keepdims=True)
    exp = np.exp(scaled)
    return exp / exp.sum(axis=1, keepdims=True)


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The temperature that minimises the negative log-likelihood of ``labels``."""

    def nll(temperature: float) -> float:
        probs = softmax(logits, temperature)
        return float(-np.mean(np.log(probs[np.arange(len(labels)), labels] + 1e-12)))

    result = minimize_scalar(nll, bounds=(0.05, 20.0), method="bounded")
    return float(result.x)


def review_table(probabilities: np.ndarray, labels: np.ndarray) -> list[dict[str, Any]]:
    """For each threshold: the share accepted (confidence >= t), their precision, errors let through."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    rows = []
    for threshold in REVIEW_THRESHOLDS:
        accepted = confidence >= threshold
        rows.append({
            "threshold": threshold,
            "accepted": round(float(accepted.mean()), 5),
            "precision": round(float(correct[accepted].mean()) if accepted.any() else 1.0, 5),
            "errors_accepted": int((~correct & accepted).sum()),
            "errors_flagged": int((~correct & ~accepted).sum()),
        })
    return rows
