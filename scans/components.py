"""Connected components of an ink mask, with each one's box and area."""

from __future__ import annotations

import cv2
import numba
import numpy as np


def label_components(mask: np.ndarray) -> tuple[np.ndarray, list[list[int]]]:
    """8-connected labels of a uint8 mask, and per label a row (x, y, width, height, area).

    The rows are those of ``cv2.connectedComponentsWithStats``, except that the background's
    (label 0) is all zeros: OpenCV's own stats cost three times its labelling.
    """
    count, labels = cv2.connectedComponents(mask, connectivity=8)
    return labels, component_stats(labels, count).tolist()


@numba.njit(cache=True, nogil=True)
def component_stats(labels: np.ndarray, count: int) -> np.ndarray:  # pragma: no cover - compiled
    """Rows of (x, y, width, height, area) per label of ``labels``, counted in one pass; the
    background's row (label 0) is left all zeros."""
    height, width = labels.shape
    low = np.full((count, 2), 1 << 30, np.int64)
    high = np.full((count, 2), -1, np.int64)
    area = np.zeros(count, np.int64)
    for y in range(height):
        row = labels[y]
        for x in range(width):
            label = row[x]
            if label == 0:
                continue
            area[label] += 1
            if x < low[label, 0]:
                low[label, 0] = x
            if x > high[label, 0]:
                high[label, 0] = x
            if y < low[label, 1]:
                low[label, 1] = y
            high[label, 1] = y
    stats = np.zeros((count, 5), np.int64)
    for label in range(1, count):
        stats[label, 0], stats[label, 1] = low[label, 0], low[label, 1]
        stats[label, 2] = high[label, 0] - low[label, 0] + 1
        stats[label, 3] = high[label, 1] - low[label, 1] + 1
        stats[label, 4] = area[label]
    return stats
