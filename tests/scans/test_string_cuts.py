"""Cutting the string model's digits out of its input for the digit model (scans.string_cuts)."""

from __future__ import annotations

import cv2
import numpy as np

from contracts.models import DIGIT_SIZE, STRING_HEIGHT, STRING_WIDTH
from scans.normalise import to_mnist
from scans.string_cuts import digit_inputs


def _string(mnist, indices: list[int], pitch: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """A string image of MNIST test digits ``pitch`` columns apart (24 rows high, as the string
    model sees them) and each digit's columns."""
    image = np.zeros((STRING_HEIGHT, STRING_WIDTH), np.uint8)
    columns = []
    for k, i in enumerate(indices):
        digit = cv2.resize(mnist.x_test[i], (24, 24), interpolation=cv2.INTER_AREA)
        left = 4 + k * pitch
        np.maximum(image[4:28, left : left + 24], digit, out=image[4:28, left : left + 24])
        columns.append((left - 3, left + 27))
    return image, np.array(columns, np.float64)


def _similarity(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.astype(np.float64).ravel(), b.astype(np.float64).ravel()
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_each_cut_is_its_digit_normalised_as_mnist_was_built(mnist):
    image, columns = _string(mnist, [0, 1, 2])
    cuts = digit_inputs(image, columns)
    assert cuts.shape == (3, DIGIT_SIZE, DIGIT_SIZE) and cuts.dtype == np.uint8
    for k, cut in enumerate(cuts):
        alone = to_mnist(image[:, int(columns[k][0]) : int(columns[k][1])])
        assert _similarity(cut, alone) > 0.95
        ys, xs = np.nonzero(cut)
        assert max(np.ptp(ys), np.ptp(xs)) + 1 in (19, 20, 21)  # the longer side in MNIST's 20 px box


def test_faint_background_and_specks_do_not_set_the_box(mnist):
    image, columns = _string(mnist, [3, 4])
    clean = digit_inputs(image, columns)
    rng = np.random.default_rng(0)
    noisy = np.maximum(image, rng.integers(0, 45, image.shape).astype(np.uint8))  # print, paper texture
    noisy[30, columns[0][0].astype(int) + 1] = 255  # a stray dot under the first digit
    cuts = digit_inputs(noisy, columns)
    for cut, reference in zip(cuts, clean):
        assert _similarity(cut, reference) > 0.9


def test_a_cut_with_no_ink_is_blank_and_edges_past_the_image_are_clipped(mnist):
    image, _ = _string(mnist, [5])
    cuts = digit_inputs(image, np.array([[150.0, 170.0], [-10.0, 40.0], [190.0, 260.0]]))
    assert not cuts[0].any() and cuts[1].any() and not cuts[2].any()
    assert digit_inputs(image, np.zeros((0, 2))).shape == (0, DIGIT_SIZE, DIGIT_SIZE)
