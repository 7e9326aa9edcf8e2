"""The digit model's second look at a string reading (worker.fusion)."""

from __future__ import annotations

import numpy as np
import pytest

from scans.ctc import StringReading
from worker.fusion import CUT_WEIGHT, fuse


def _reading(rows: list[dict[int, float]]) -> StringReading:
    probabilities = np.full((len(rows), 10), 1e-3, np.float32)
    for k, row in enumerate(rows):
        for digit, p in row.items():
            probabilities[k, digit] = p
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    text = "".join(str(int(d)) for d in probabilities.argmax(axis=1))
    columns = np.array([[8.0 * k, 8.0 * k + 8] for k in range(len(rows))])
    return StringReading(text, 0.6, probabilities, columns)


def _cuts(digits: str, p: float = 0.98) -> np.ndarray:
    out = np.full((len(digits), 10), (1 - p) / 9, np.float32)
    out[np.arange(len(digits)), [int(d) for d in digits]] = p
    return out


def test_a_digit_the_string_model_was_torn_on_goes_to_the_digit_models_reading():
    reading = _reading([{4: 0.95}, {1: 0.52, 7: 0.46}, {0: 0.97}])
    fused, confidence = fuse(reading, 0.8, _cuts("470"))
    assert (reading.text, fused.text) == ("410", "470")
    p = reading.probabilities
    assert confidence == pytest.approx(0.8 * (p[1, 7] + 1e-4) / (p[1, 1] + 1e-4), rel=1e-5)
    assert fused.confidence == pytest.approx(reading.confidence * confidence / 0.8, rel=1e-5)
    assert fused.probabilities.shape == (3, 10) and np.allclose(fused.probabilities.sum(axis=1), 1)
    assert int(fused.probabilities[1].argmax()) == 7 and np.array_equal(fused.columns, reading.columns)


def test_a_sure_string_reading_stands_against_the_digit_model():
    reading = _reading([{1: 0.97, 7: 0.02}, {2: 0.99}])
    fused, confidence = fuse(reading, 0.7, _cuts("72", 0.99))
    assert fused.text == "12" and confidence == 0.7


def test_nothing_changes_without_a_cut_for_each_digit_or_a_weight():
    reading = _reading([{3: 0.5, 8: 0.49}, {5: 0.9}])
    for cuts, weight in ((_cuts("85"), 0.0), (_cuts("8"), CUT_WEIGHT), (np.zeros((0, 10)), CUT_WEIGHT)):
        assert fuse(reading, 0.4, cuts, weight) == (reading, 0.4)
    empty = StringReading("", 0.3, np.zeros((0, 10), np.float32), np.zeros((0, 2)))
    assert fuse(empty, 0.3, np.zeros((0, 10))) == (empty, 0.3)
