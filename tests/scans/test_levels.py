import numpy as np
import pytest

from scans.levels import histogram, ink_level, ink_threshold, noise_floor


def _histogram(values: np.ndarray) -> np.ndarray:
    return np.bincount(values.ravel(), minlength=256).astype(np.float32)


def _paper(rng, sigma: float, size: int = 20_000) -> np.ndarray:
    return np.clip(rng.normal(10, sigma, size), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("sigma", [1.0, 3.0, 8.0])
def test_noise_floor_is_median_plus_four_robust_sigmas(sigma):
    values = _paper(np.random.default_rng(0), sigma)
    median = np.median(values)
    mad = np.median(np.abs(values.astype(int) - median))
    assert abs(noise_floor(_histogram(values)) - (median + 4 * 1.4826 * mad)) <= 1


def test_noise_floor_ignores_the_ink_minority():
    rng = np.random.default_rng(1)
    paper = _paper(rng, 3.0)
    with_ink = np.concatenate([paper, np.full(3000, 200, np.uint8)])
    assert abs(noise_floor(_histogram(with_ink)) - noise_floor(_histogram(paper))) <= 2


def test_ink_threshold_splits_faint_strokes_from_paper_left_at_the_floor():
    rng = np.random.default_rng(2)
    paper = np.full(20_000, 20, np.uint8)
    strokes = np.clip(rng.normal(150, 10, 2000), 0, 255).astype(np.uint8)
    faint = np.full(300, 60, np.uint8)
    hist = _histogram(np.concatenate([paper, strokes, faint]))
    peak, threshold = ink_threshold(hist, 20)
    assert peak == int(strokes.max()) - 20
    # A third of Otsu's split, counted from the floor: the faint strokes (40 above it) are ink.
    assert 0.1 * peak <= threshold < 40


def test_blank_paper_has_no_peak():
    assert ink_threshold(_histogram(np.full(500, 30, np.uint8)), 30) == (0, 0.0)


def test_ink_level_is_the_90th_percentile_of_the_inked_pixels():
    values = np.concatenate([np.zeros(5000, np.uint8), np.arange(1, 101, dtype=np.uint8), [255]])
    assert ink_level(_histogram(values)) == 91
    assert ink_level(_histogram(np.zeros(50, np.uint8))) == 1.0


def test_histogram_counts_like_opencv_also_for_views():
    import cv2

    image = np.random.default_rng(5).integers(0, 256, (61, 67), dtype=np.uint8)
    for view in (image, image[3:50, 5:66], image[::2, ::3]):
        expected = cv2.calcHist([np.ascontiguousarray(view)], [0], None, [256], [0, 256]).ravel()
        assert np.array_equal(histogram(view), expected)
