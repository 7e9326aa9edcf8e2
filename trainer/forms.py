"""Other ways of writing digits than MNIST's American ones, drawn onto MNIST digits.

Much of the world writes a 1 with a long up-stroke from its top (a "flag") and crosses the
stem of a 7. MNIST (written in the USA) has few of either, so a model trained on it reads a
flagged 1 as a 7 and a crossed 7 as a 4 or a 2. These helpers draw the strokes on training
digits (MNIST's training split only) and bring the result back to MNIST's normalisation, as
the scan library does with a scanned digit. Open and closed 4s are both common in MNIST
already.
"""

from __future__ import annotations

import cv2
import numpy as np

from scans.normalise import to_mnist

PAD = 8


def flagged_one(digit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A 1 with a flag: a stroke from its top, down to the left, 25-45% of its height long."""
    canvas, top, bottom, (x0, x1) = _canvas(digit)
    row = canvas[top]
    xs = np.flatnonzero(row > 96)
    x = float(xs.mean()) if xs.size else (x0 + x1) / 2
    height = bottom - top
    length = height * rng.uniform(0.25, 0.45)
    angle = np.deg2rad(rng.uniform(25, 55))
    end = (x - length * np.cos(angle), top + length * np.sin(angle))
    _stroke(canvas, (x, top + 1), end, rng)
    return to_mnist(canvas)


def crossed_seven(digit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A 7 with a bar across its stem at about 55% of its height."""
    canvas, top, bottom, (x0, x1) = _canvas(digit)
    y = int(round(top + (bottom - top) * rng.uniform(0.5, 0.62)))
    xs = np.flatnonzero(canvas[y] > 96)
    centre = float(xs.mean()) if xs.size else (x0 + x1) / 2
    half = (x1 - x0) * rng.uniform(0.18, 0.3)
    tilt = rng.uniform(-1.5, 1.5)
    _stroke(canvas, (centre - half, y - tilt), (centre + half, y + tilt), rng)
    return to_mnist(canvas)


def add_national_forms(images: np.ndarray, labels: np.ndarray, seed: int,
                       share: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    """``images`` and ``labels`` with flagged 1s and crossed 7s added: for a ``share`` of the
    1s and 7s, one more image each (the originals stay). Deterministic by ``seed``."""
    rng = np.random.default_rng(seed)
    extra_images, extra_labels = [], []
    for label, draw in ((1, flagged_one), (7, crossed_seven)):
        chosen = np.flatnonzero(labels == label)
        chosen = chosen[rng.random(chosen.size) < share]
        extra_images += [draw(images[i], rng) for i in chosen]
        extra_labels += [label] * len(chosen)
    if not extra_images:
        return images, labels
    return (np.concatenate([images, np.stack(extra_images)]),
            np.concatenate([labels, np.array(extra_labels, labels.dtype)]))


def _canvas(digit: np.ndarray) -> tuple[np.ndarray, int, int, tuple[int, int]]:
    """The digit on a padded canvas (strokes may reach past its box), with its ink's rows and columns."""
    canvas = cv2.copyMakeBorder(digit, PAD, PAD, PAD, PAD, cv2.BORDER_CONSTANT, value=0)
    rows = np.flatnonzero(canvas.max(axis=1) > 96)
    cols = np.flatnonzero(canvas.max(axis=0) > 96)
    if not rows.size:
        rows = cols = np.array([PAD, PAD + 27])
    return canvas, int(rows[0]), int(rows[-1]), (int(cols[0]), int(cols[-1]))


def _stroke(canvas: np.ndarray, start: tuple[float, float], end: tuple[float, float],
            rng: np.random.Generator) -> None:
    """An anti-aliased pen stroke as thick as MNIST's (2-3 px), drawn in place."""
    shift = 4  # sub-pixel precision of OpenCV's drawing
    scale = 1 << shift
    p0 = (int(round(start[0] * scale)), int(round(start[1] * scale)))
    p1 = (int(round(end[0] * scale)), int(round(end[1] * scale)))
    cv2.line(canvas, p0, p1, 255, int(rng.integers(2, 4)), cv2.LINE_AA, shift)
