"""Normalise one digit the way MNIST was built: 28x28, white ink on black, 20 px box, centred.

MNIST's digits were cropped at the pen's edge, scaled so that the longer side is 20 px
(keeping the aspect ratio, anti-aliased), and placed in a 28x28 frame with their centre of
mass at the centre. Doing the same to each digit of a scan is what lets a model trained on
MNIST read it.
"""

from __future__ import annotations

import cv2
import numpy as np

from contracts.models import DIGIT_SIZE
from scans.levels import histogram, ink_level
from scans.resample import shrink_stretched

MNIST_SIZE = DIGIT_SIZE
DIGIT_BOX = 20
# A stroke's edge, as a share of its full ink level (MNIST boxes were cut at the pen's edge).
EDGE_LEVEL = 0.25


def to_mnist(crop: np.ndarray) -> np.ndarray:
    """Normalise one digit's uint8 ink crop (paper 0) the way MNIST was built.

    Strokes are stretched to full white, the longer side is scaled to 20 px keeping the aspect
    ratio, and the digit is placed in a 28x28 frame with its centre of mass at the centre.
    """
    level = ink_level(histogram(crop))
    # Segmentation keeps faint halo pixels for connectivity; MNIST's box is the pen's own edge.
    _, edge = cv2.threshold(crop, EDGE_LEVEL * level, 1, cv2.THRESH_BINARY)
    left, top, width, height = cv2.boundingRect(edge)
    if width:
        crop = crop[top : top + height, left : left + width]
    return _centre_by_mass(_fit_box(crop, 255.0 / level, DIGIT_BOX), MNIST_SIZE)


def _fit_box(crop: np.ndarray, gain: float, box: int) -> np.ndarray:
    """``min(crop * gain, 255)`` scaled so that its longer side is ``box`` px (float32)."""
    height, width = crop.shape
    scale = box / max(height, width)
    size = (max(1, int(round(width * scale))), max(1, int(round(height * scale))))
    if scale < 1.0:
        # Area averaging when shrinking is the anti-aliasing MNIST's own resampling had.
        return shrink_stretched(crop, gain, *size)
    stretched = np.minimum(crop.astype(np.float32) * gain, 255.0)
    # Bilinear interpolation stays within 0..255 too.
    return cv2.resize(stretched, size, interpolation=cv2.INTER_LINEAR)


def _centre_by_mass(patch: np.ndarray, size: int) -> np.ndarray:
    height, width = patch.shape
    moments = cv2.moments(patch)
    if moments["m00"] <= 0.0:
        cy, cx = (height - 1) / 2.0, (width - 1) / 2.0
    else:
        cy, cx = moments["m01"] / moments["m00"], moments["m10"] / moments["m00"]
    # MNIST's centres of mass sit at (14.0, 14.0) in pixel-index coordinates.
    top = min(max(int(round(size / 2.0 - cy)), 0), size - height)
    left = min(max(int(round(size / 2.0 - cx)), 0), size - width)
    out = np.zeros((size, size), dtype=np.uint8)
    out[top : top + height, left : left + width] = cv2.convertScaleAbs(patch)  # rounds half to even, as np.round
    return out
