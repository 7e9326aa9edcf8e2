import cv2
import numpy as np
import pytest

from scans.resample import shrink_stretched


@pytest.mark.parametrize("shape", [(143, 104), (300, 37), (21, 20), (20, 20), (997, 3)])
def test_shrinking_matches_opencvs_area_averaging_of_the_stretched_crop(shape):
    rng = np.random.default_rng(sum(shape))
    crop = rng.integers(0, 256, shape, dtype=np.uint8)
    gain = 255 / 180
    scale = 20 / max(shape)
    size = (max(1, round(shape[1] * scale)), max(1, round(shape[0] * scale)))
    expected = cv2.resize(np.minimum(crop.astype(np.float32) * gain, 255), size, interpolation=cv2.INTER_AREA)
    got = shrink_stretched(crop, gain, *size)
    assert got.shape == expected.shape and got.dtype == np.float32
    assert np.abs(got - expected).max() < 1e-3


def test_a_view_into_a_page_shrinks_like_a_copy():
    page = np.random.default_rng(0).integers(0, 256, (200, 200), dtype=np.uint8)
    view = page[30:170, 55:160]
    assert np.array_equal(shrink_stretched(view, 1.5, 15, 20), shrink_stretched(view.copy(), 1.5, 15, 20))
