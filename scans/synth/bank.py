"""The digits strings are built from: MNIST *training* digits, cropped, as centre lines.

The trainer passes the MNIST training split as arrays (nothing is read from disk here);
:meth:`Bank.from_mnist` keeps either the digits used to train on or the ``HOLDOUT`` digits
set aside, by a fixed permutation, for synthetic validation strings.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

# MNIST training digits held out (by a fixed permutation) for synthetic validation.
HOLDOUT = 6000
SPLIT_SEED = 20240601
SPLITS = ("train", "val")
# Skeletons are traced on a 4x upscaled digit: centre lines 1/4 MNIST px wide.
SKEL_UP = 4
# Pixels above this level are ink when cropping a digit; digits with fewer are skipped.
CROP_LEVEL = 40
MIN_INK = 8


def split_indices(count: int, split: str) -> np.ndarray:
    """The sorted indices of ``split`` ("train" or "val") in an MNIST training split of ``count``
    digits: the ``HOLDOUT`` digits a fixed permutation puts first are "val", the rest "train"."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
    order = np.random.default_rng(SPLIT_SEED).permutation(count)
    return np.sort(order[HOLDOUT:] if split == "train" else order[:HOLDOUT])


@dataclass
class Bank:
    """MNIST training digits cropped to their ink, grouped by class (white ink on black)."""

    crops: list[list[np.ndarray]]
    _points: dict[tuple[int, int], np.ndarray] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_mnist(cls, images: np.ndarray, labels: np.ndarray, split: str = "train") -> Bank:
        """``images`` (N, 28, 28) and ``labels`` (N,): the MNIST *training* split, whole.

        ``split`` "train": every digit but the holdout; "val": the ``HOLDOUT`` held-out digits.
        """
        if len(images) != len(labels) or len(images) <= HOLDOUT:
            raise ValueError(f"expected the MNIST training split with its labels, got {len(images)} images "
                             f"and {len(labels)} labels")
        crops: list[list[np.ndarray]] = [[] for _ in range(10)]
        for i in split_indices(len(images), split):
            image = images[i]
            ys, xs = np.nonzero(image > CROP_LEVEL)
            if len(ys) < MIN_INK:
                continue
            crops[int(labels[i])].append(
                np.ascontiguousarray(image[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]))
        return cls(crops)

    def pick(self, rng: np.random.Generator, digit: int) -> np.ndarray:
        """Skeleton points (float32 [N, 2], x y, centred, in MNIST pixels) of a random digit of
        class ``digit``; computed once per MNIST image and cached."""
        group = self.crops[digit]
        k = int(rng.integers(len(group)))
        points = self._points.get((digit, k))
        if points is None:
            points = self._points[(digit, k)] = skeleton_points(group[k])
        return points


def skeleton_points(crop: np.ndarray) -> np.ndarray:
    """Centre line of an MNIST digit as points in crop pixels, centred on the crop."""
    ch, cw = crop.shape
    big = cv2.resize(np.pad(crop, 1), ((cw + 2) * SKEL_UP, (ch + 2) * SKEL_UP), interpolation=cv2.INTER_CUBIC)
    ys, xs = np.nonzero(skeleton(big, window=2 * SKEL_UP + 1, tol=0.4 * SKEL_UP))
    points = np.stack([(xs + 0.5) / SKEL_UP - 1 - cw / 2, (ys + 0.5) / SKEL_UP - 1 - ch / 2], 1)
    return points.astype(np.float32)


def skeleton(grey: np.ndarray, window: int = 5, tol: float = 0.75) -> np.ndarray:
    """Approximate one-to-two pixel centre line (uint8 0/1) of anti-aliased white strokes.

    Ridge of the distance transform: pixels whose distance to the background is within
    ``tol`` px of the largest distance in their ``window`` neighbourhood. It keeps stroke ends
    and never splits a stroke of even width (unlike repeated erosion).
    """
    mask = (grey > 110).astype(np.uint8)
    if not mask.any():
        return mask
    dist = cv2.distanceTransform(mask, cv2.DIST_L2, 3)
    local = cv2.dilate(dist, np.ones((window, window), np.uint8))
    return ((dist >= local - tol) & (mask > 0)).astype(np.uint8)
