"""One synthetic scan: a string written (glyphs, layout, pen), then photographed or scanned.

At the final resolution (digit height 13-64 px, mostly 18-40): paper level and texture,
lighting gradients and vignetting, security print, ruled lines, printed boxes or comb
dividers, black scanner margins, grey "colour" of pen and paper (a blue pen or a colour cast
is a darker or lighter grey), ink applied multiplicatively, blur, sensor noise, JPEG
compression, rarely inverted polarity.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import cv2
import numpy as np

from scans.synth.bank import Bank
from scans.synth.draw import chance, smooth_noise, uniform
from scans.synth.glyphs import draw_label, draw_style
from scans.synth.layout import compose, pen
from scans.synth.paper import boxes, paper


class Sample(NamedTuple):
    """A synthetic scan as it would arrive (grey uint8, any size), its label (digits only) and
    each digit's x-extent (left, right) in the image's pixel columns."""

    image: np.ndarray
    label: str
    extents: list[tuple[float, float]]


def sample(bank: Bank, seed: int, index: int) -> Sample:
    """Sample ``index`` of the set with ``seed``: the same whichever process draws it."""
    return render(np.random.default_rng([seed, index]), bank)


def render(rng: np.random.Generator, bank: Bank, label: str | None = None) -> Sample:
    """One synthetic scan drawn with ``rng``; a random label unless ``label`` is given."""
    if label is None:
        label = draw_label(rng)
    st = draw_style(rng)
    sk, canvas_extents = compose(rng, bank, label, st)
    # Crop the canvas to the ink plus random margins (narrow crops as phone apps make, or
    # wide ones as a page region); pen width half on each side.
    bx, by, bw, bh = cv2.boundingRect(sk)
    hd = st.hd
    m_top = uniform(rng, 0.05, 0.9) * hd
    m_bot = uniform(rng, 0.05, 0.9) * hd
    m_lr = (uniform(rng, 0.05, 1.2) * hd, uniform(rng, 0.05, 1.2) * hd)
    y0 = max(0, int(by - m_top - st.pen))
    y1 = min(sk.shape[0], int(by + bh - 1 + m_bot + st.pen) + 1)
    x0 = max(0, int(bx - m_lr[0] - st.pen))
    x1 = min(sk.shape[1], int(bx + bw - 1 + m_lr[1] + st.pen) + 1)
    sk = sk[y0:y1, x0:x1]
    alpha = pen(sk, st.pen)
    if chance(rng, 0.25):  # pen skips: short gaps across the strokes
        for _ in range(int(rng.integers(1, 2 + len(label)))):
            cx, cy = uniform(rng, 0, alpha.shape[1]), uniform(rng, 0, alpha.shape[0])
            ang = uniform(rng, 0, math.pi)
            ln = hd * 0.3
            cv2.line(alpha, (int(cx - ln * math.cos(ang)), int(cy - ln * math.sin(ang))),
                     (int(cx + ln * math.cos(ang)), int(cy + ln * math.sin(ang))), 0.0,
                     max(1, int(round(uniform(rng, 0.6, 1.5) * st.pen))))
    if chance(rng, 0.5):  # uneven ink (pressure, ballpoint skipping)
        alpha *= np.clip(1 - uniform(rng, 0.1, 0.6) * (0.5 + 0.5 * smooth_noise(rng, *alpha.shape,
                                                                                   uniform(rng, 4, 20))), 0, 1)

    # Final resolution: digit height mostly 18-40 px (phone photos 20-35, scans larger).
    target = math.exp(rng.normal(math.log(28), 0.35))
    target = min(max(target, 13.0), 64.0)
    f = target / hd
    h, w = alpha.shape
    nh, nw = max(8, int(round(h * f))), max(8, int(round(w * f)))
    alpha = cv2.resize(alpha, (nw, nh), interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_LINEAR)
    extents = [((a - x0 - st.pen / 2) * f, (b - x0 + st.pen / 2) * f) for a, b in canvas_extents]
    band = ((by - y0) * f, (by + bh - 1 - y0) * f)
    lum = _capture(rng, alpha, extents, band, hd * f)
    extents = [(max(0.0, a), min(float(nw), b)) for a, b in extents]
    return Sample(lum, label, extents)


def _capture(rng: np.random.Generator, alpha: np.ndarray, extents: list[tuple[float, float]],
             band: tuple[float, float], hd: float) -> np.ndarray:
    """Ink coverage at the final resolution -> the grey uint8 image a camera or scanner gives."""
    nh, nw = alpha.shape
    # Paper, print and ink in luminance (0..255).
    level = uniform(rng, 120, 250) if chance(rng, 0.85) else uniform(rng, 60, 120)
    ink_rel = uniform(rng, 0.05, 0.6)  # pen luminance relative to the paper
    shade = paper(rng, nh, nw, hd, band, 1 - ink_rel)
    if chance(rng, 0.08):
        shade += boxes(rng, nh, nw, extents, band, hd) * (1 - ink_rel)
    lum = level * (1 - np.clip(shade, 0, 0.95))
    lum = lum * (1 - alpha * (1 - ink_rel))
    # Lighting: a gradient and a vignette, multiplicative.
    if chance(rng, 0.7):
        yy, xx = np.mgrid[0:nh, 0:nw].astype(np.float32)
        g = 1 + uniform(rng, -0.4, 0.4) * (xx / nw - 0.5) + uniform(rng, -0.4, 0.4) * (yy / nh - 0.5)
        if chance(rng, 0.3):
            g -= uniform(rng, 0.0, 0.5) * ((xx / nw - uniform(rng, 0, 1)) ** 2 + (yy / nh - uniform(rng, 0, 1)) ** 2)
        if chance(rng, 0.15):  # a hard shadow edge
            xe = uniform(rng, 0, nw)
            g = np.where(xx * uniform(rng, 0.5, 1.5) + yy * uniform(rng, -1, 1) > xe, g * uniform(rng, 0.55, 0.85), g)
        lum = lum * np.clip(g, 0.2, 1.5)
    # Black scanner margins on 1-2 sides.
    if chance(rng, 0.1):
        for _ in range(int(rng.integers(1, 3))):
            side = int(rng.integers(0, 4))
            depth = uniform(rng, 0.03, 0.25)
            dark = uniform(rng, 0, 50)
            if side == 0:
                lum[: int(depth * nh) + 1] = dark
            elif side == 1:
                lum[nh - int(depth * nh) - 1 :] = dark
            elif side == 2:
                lum[:, : int(depth * nw * 0.3) + 1] = dark
            else:
                lum[:, nw - int(depth * nw * 0.3) - 1 :] = dark
    # Capture: blur, noise, quantise, JPEG; rarely a negative (chalk, MNIST-like).
    if chance(rng, 0.5):
        lum = cv2.GaussianBlur(lum, (0, 0), uniform(rng, 0.3, 1.1))
    if chance(rng, 0.7):
        contrast = level * (1 - ink_rel)  # sensor noise well below the ink contrast
        lum = lum + rng.normal(0, min(uniform(rng, 1, 10), contrast / 6), lum.shape).astype(np.float32)
    if chance(rng, 0.05):
        lum = 255 - lum
    img = np.clip(lum, 0, 255).astype(np.uint8)
    if chance(rng, 0.6):
        _, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(15, 96))])
        img = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)
    return img
