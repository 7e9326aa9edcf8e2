"""Small drawing and sampling helpers shared by the generator's steps."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

Point = Sequence[float]


def uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(rng.uniform(low, high))


def chance(rng: np.random.Generator, p: float) -> bool:
    return bool(rng.random() < p)


def line(canvas: np.ndarray, p0: Point, p1: Point, value: int = 1, thickness: int = 1) -> None:
    cv2.line(canvas, (int(round(p0[0])), int(round(p0[1]))), (int(round(p1[0])), int(round(p1[1]))),
             value, thickness, cv2.LINE_8)


def curve(canvas: np.ndarray, points, value: int = 1, thickness: int = 1) -> None:
    pts = np.round(np.asarray(points)).astype(np.int32).reshape(-1, 1, 2)
    cv2.polylines(canvas, [pts], False, value, thickness, cv2.LINE_8)


def bezier(p0: Point, p1: Point, p2: Point, n: int = 12) -> np.ndarray:
    """``n`` points of the quadratic Bezier curve from ``p0`` to ``p2`` pulled towards ``p1``."""
    t = np.linspace(0, 1, n)[:, None]
    return (1 - t) ** 2 * np.asarray(p0) + 2 * (1 - t) * t * np.asarray(p1) + t ** 2 * np.asarray(p2)


def smooth_noise(rng: np.random.Generator, h: int, w: int, cells: float, low: float = -1.0,
                 high: float = 1.0) -> np.ndarray:
    """Low-frequency noise field in [low, high], about ``cells`` cells across the long side."""
    ch = max(2, int(round(cells * h / max(h, w))) + 1)
    cw = max(2, int(round(cells * w / max(h, w))) + 1)
    grid = rng.uniform(low, high, (ch, cw)).astype(np.float32)
    return cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)
