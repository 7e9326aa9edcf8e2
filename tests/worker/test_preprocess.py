import io

import numpy as np
import pytest
from PIL import Image

from tests.scans import render_scan
from worker.errors import NoDigitFoundError
from worker.preprocess import ink_to_mnist, preprocess


def _centre_of_mass(img):
    img = img.astype(float)
    total = img.sum()
    return (img.sum(1) * np.arange(28)).sum() / total, (img.sum(0) * np.arange(28)).sum() / total


def _png(array: np.ndarray, mode: str | None = None) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array, mode=mode).save(buffer, format="PNG")
    return buffer.getvalue()


def test_dark_ink_on_grey_paper_comes_out_like_mnist(mnist):
    for i in range(20):
        out = preprocess(render_scan(mnist.x_test[i], height=150, offset=(10, 100)))
        assert out.shape == (28, 28) and out.dtype == np.uint8
        corr = np.corrcoef(out.ravel().astype(float), mnist.x_test[i].ravel().astype(float))[0, 1]
        assert corr > 0.85, i


def test_polarity_is_detected_both_ways(mnist):
    digit = mnist.x_test[3]
    light_on_dark = preprocess(_png(digit))
    dark_on_light = preprocess(_png(255 - digit))
    assert np.abs(light_on_dark.astype(int) - dark_on_light.astype(int)).max() <= 1


def test_digit_fits_20x20_keeping_aspect_and_centre_of_mass_is_central(mnist):
    tall = np.zeros((300, 60), np.uint8)
    tall[20:280, 20:40] = 255  # a "1": tall and thin
    out = preprocess(_png(tall))
    rows = np.flatnonzero(out.max(axis=1) > 0)
    cols = np.flatnonzero(out.max(axis=0) > 0)
    assert rows[-1] - rows[0] + 1 == 20
    assert cols[-1] - cols[0] + 1 <= 4
    cy, cx = _centre_of_mass(out)
    assert abs(cy - 14) <= 0.6 and abs(cx - 14) <= 0.6


def test_off_centre_digit_is_centred(mnist):
    out = preprocess(render_scan(mnist.x_test[0], height=60, canvas=(400, 400), offset=(320, 5)))
    cy, cx = _centre_of_mass(out)
    assert abs(cy - 14) <= 0.6 and abs(cx - 14) <= 0.6


def test_mnist_digits_are_a_fixed_point(mnist):
    corr = [np.corrcoef(ink_to_mnist(mnist.x_test[i].astype(np.float32)).ravel().astype(float),
                        mnist.x_test[i].ravel().astype(float))[0, 1] for i in range(200)]
    assert np.median(corr) > 0.99


@pytest.mark.parametrize("value", [0, 128, 255])
def test_blank_images_are_no_digit_not_a_guess(value):
    with pytest.raises(NoDigitFoundError):
        preprocess(_png(np.full((50, 50), value, np.uint8)))


def test_faint_paper_noise_is_no_digit():
    rng = np.random.default_rng(0)
    with pytest.raises(NoDigitFoundError):
        preprocess(_png(np.clip(rng.normal(200, 3, (80, 80)), 0, 255).astype(np.uint8)))
