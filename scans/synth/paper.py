"""What the string is written on: paper texture, security print, ruled lines, printed boxes.

Every layer is a darkness (0 = blank paper, 1 = black) in luminance, which is all the reader
sees. Background print is kept lighter than the pen (``ink_dark``), as on real documents: a
string drawn fainter than its background is not legible, so not a useful sample.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from scans.synth.draw import chance, smooth_noise, uniform


def guilloche(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Security print: 1-3 families of fine wavy lines, darkness 0..1."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    out = np.zeros((h, w), np.float32)
    for _ in range(int(rng.integers(1, 4))):
        period = uniform(rng, 2.5, 7.0)
        ang = uniform(rng, -0.6, 0.6) if chance(rng, 0.7) else uniform(rng, -1.6, 1.6)
        amp = uniform(rng, 0.5, 8.0)
        wl = uniform(rng, 8, 60)
        ph = uniform(rng, 0, 6.3)
        u = xx * math.cos(ang) + yy * math.sin(ang)
        v = -xx * math.sin(ang) + yy * math.cos(ang)
        phase = 2 * math.pi * (v + amp * np.sin(2 * math.pi * u / wl + ph)) / period
        sharp = uniform(rng, 1.0, 4.0)
        out = np.maximum(out, (0.5 + 0.5 * np.cos(phase)) ** sharp)
    if chance(rng, 0.5):  # patterned in regions (printed rosettes, fading)
        out *= np.clip(0.6 + smooth_noise(rng, h, w, uniform(rng, 2, 6)), 0, 1)
    return out


def paper(rng: np.random.Generator, h: int, w: int, hd: float, band: tuple[float, float],
          ink_dark: float) -> np.ndarray:
    """Background darkness: texture, security print and ruled lines (lighter than the pen)."""
    shade = np.zeros((h, w), np.float32)
    if chance(rng, 0.6):  # paper texture
        shade += smooth_noise(rng, h, w, uniform(rng, 6, 30)) * uniform(rng, 0.0, 0.06)
    if chance(rng, 0.25):  # security print
        shade += guilloche(rng, h, w) * uniform(rng, 0.1, 0.65) * ink_dark
    _, bottom = band
    if chance(rng, 0.2):  # ruled paper
        spacing = uniform(rng, 0.9, 1.6) * hd
        y = bottom + uniform(rng, -0.25, 0.25) * hd
        dark = uniform(rng, 0.15, 0.8) * ink_dark
        thick = 1 if chance(rng, 0.7) else 2
        rows = [y + k * spacing for k in range(-4, 5)]
        tilt = uniform(rng, -0.02, 0.02)
        layer = np.zeros((h, w), np.float32)
        for row in rows:
            if -3 < row < h + 3:
                cv2.line(layer, (0, int(row)), (w - 1, int(row + tilt * w)), 1.0, thick, cv2.LINE_AA)
        if chance(rng, 0.1):  # margin line
            xm = int(uniform(rng, 0, w))
            cv2.line(layer, (xm, 0), (xm, h - 1), 1.0, thick, cv2.LINE_AA)
        shade += layer * dark
    return shade


def boxes(rng: np.random.Generator, h: int, w: int, extents: list[tuple[float, float]],
          band: tuple[float, float], hd: float) -> np.ndarray:
    """Printed form lines around the digits: a box around the field, or comb dividers."""
    layer = np.zeros((h, w), np.float32)
    top, bottom = band
    pad_v = uniform(rng, 0.1, 0.5) * hd
    y0, y1 = int(top - pad_v), int(bottom + pad_v)
    thick = int(rng.integers(1, 3))
    if chance(rng, 0.5):
        x0 = int(extents[0][0] - uniform(rng, 0.1, 0.8) * hd)
        x1 = int(extents[-1][1] + uniform(rng, 0.1, 0.8) * hd)
        cv2.rectangle(layer, (x0, y0), (x1, y1), 1.0, thick, cv2.LINE_AA)
    else:
        cv2.line(layer, (0, y0), (w - 1, y0), 1.0, thick, cv2.LINE_AA)
        cv2.line(layer, (0, y1), (w - 1, y1), 1.0, thick, cv2.LINE_AA)
        for (_, a1), (b0, _) in zip(extents[:-1], extents[1:]):
            if b0 - a1 > 0 or chance(rng, 0.3):
                xc = int((a1 + b0) / 2)
                cv2.line(layer, (xc, y0), (xc, y1 if chance(rng, 0.6) else int(y1 - 0.4 * (y1 - y0))), 1.0,
                         thick, cv2.LINE_AA)
    return layer * uniform(rng, 0.3, 1.0)
