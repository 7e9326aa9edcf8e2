"""Scan preprocessing: image bytes in, MNIST-style 28x28 arrays out.

This is the one place where a scan becomes model input. The trainer's scan-like evaluation,
the worker and the benchmarks all call :func:`preprocess`, so there is no train/serve skew.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from worker.decode import DEFAULT_MAX_PIXELS, decode_grey
from worker.errors import NoDigitFoundError

MNIST_SIZE = 28
DIGIT_BOX = 20
# Below this ink contrast (in grey levels) an image is treated as blank paper.
MIN_CONTRAST = 24.0


def preprocess(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Turn one scan of a single digit into a (28, 28) uint8 array, white ink on black.

    Raises:
        InvalidImageError / ImageTooLargeError: the bytes cannot be decoded.
        NoDigitFoundError: the image is blank.
    """
    return ink_to_mnist(grey_to_ink(decode_grey(data, max_pixels)))


def grey_to_ink(grey: np.ndarray) -> np.ndarray:
    """Map a luminance image to an ink map: ink high, paper 0, whatever the polarity."""
    background = float(np.median(grey))
    if background >= 128.0:
        ink = background - grey  # dark ink on light paper, the usual scan
    else:
        ink = grey - background  # light ink on dark ground, as MNIST itself
    return np.clip(ink, 0.0, None, out=ink)


def ink_to_mnist(ink: np.ndarray) -> np.ndarray:
    """Normalise an ink map the way MNIST was built.

    Crop to the ink, scale the longer side to 20 px keeping the aspect ratio, then place it
    in a 28x28 frame so that its centre of mass sits at the centre.
    """
    peak = float(ink.max()) if ink.size else 0.0
    if peak < MIN_CONTRAST:
        raise NoDigitFoundError("no digit found: the image is blank")
    mask = ink > _otsu_threshold(ink, peak)
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    crop = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    # Stretch so solid strokes reach full white, as in MNIST, without letting one hot pixel
    # decide the scale.
    level = float(np.percentile(crop[crop > 0], 90)) if np.any(crop > 0) else peak
    crop = np.clip(crop * (255.0 / max(level, 1.0)), 0.0, 255.0)
    patch = _fit_box(crop, DIGIT_BOX)
    return _centre_by_mass(patch, MNIST_SIZE)


def _otsu_threshold(ink: np.ndarray, peak: float) -> float:
    hist, edges = np.histogram(ink, bins=64, range=(0.0, peak))
    hist = hist.astype(np.float64)
    centres = (edges[:-1] + edges[1:]) / 2.0
    weight_low = np.cumsum(hist)
    weight_high = weight_low[-1] - weight_low
    mean_low = np.cumsum(hist * centres) / np.maximum(weight_low, 1e-9)
    total = np.sum(hist * centres)
    mean_high = (total - np.cumsum(hist * centres)) / np.maximum(weight_high, 1e-9)
    between = weight_low * weight_high * (mean_low - mean_high) ** 2
    otsu = float(centres[int(np.argmax(between))])
    # Faint anti-aliasing and paper grain stay out of the bounding box.
    return max(otsu * 0.5, peak * 0.15)


def _fit_box(crop: np.ndarray, box: int) -> np.ndarray:
    height, width = crop.shape
    scale = box / max(height, width)
    new_h = max(1, int(round(height * scale)))
    new_w = max(1, int(round(width * scale)))
    resized = Image.fromarray(crop.astype(np.float32), mode="F").resize(
        (new_w, new_h), Image.Resampling.BILINEAR
    )
    return np.clip(np.asarray(resized, dtype=np.float32), 0.0, 255.0)


def _centre_by_mass(patch: np.ndarray, size: int) -> np.ndarray:
    height, width = patch.shape
    total = float(patch.sum())
    if total <= 0.0:
        cy, cx = (height - 1) / 2.0, (width - 1) / 2.0
    else:
        cy = float((patch.sum(axis=1) * np.arange(height)).sum() / total)
        cx = float((patch.sum(axis=0) * np.arange(width)).sum() / total)
    # MNIST's centres of mass sit at (14.0, 14.0) in pixel-index coordinates.
    top = int(round(size / 2.0 - cy))
    left = int(round(size / 2.0 - cx))
    # A lopsided digit must still fit entirely in the frame.
    top = min(max(top, 0), size - height)
    left = min(max(left, 0), size - width)
    out = np.zeros((size, size), dtype=np.float32)
    out[top : top + height, left : left + width] = patch
    return np.round(out).astype(np.uint8)
