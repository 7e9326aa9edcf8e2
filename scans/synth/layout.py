"""Laying a string out: digits left to right, the marks the label ignores, and the pen.

Digits go left to right with a per-writer spacing that can be negative (touching and
overlapping neighbours), per-digit jitter of size and baseline, a baseline slope, and optional
cursive joining strokes (curves from the exit of one digit to the entry of the next). Marks
that are not digits are drawn with the same pen: thousands separators ``.`` ``,``, dashes,
slashes, trailing ``.`` ``-`` ``=`` ``/-`` and wavy flourishes, underlines and tick marks.
Everything is drawn as a skeleton (uint8 0/1), then redrawn with one round pen (:func:`pen`).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from scans.synth.bank import Bank
from scans.synth.draw import bezier, chance, curve, line, uniform
from scans.synth.glyphs import Style, glyph

_SEPARATORS = (".", ".", ",", "-", "/")
_TRAILING = (".", "-", "=", "/-", "~", "~", "-", ".-")
_LEADING = ("-", "=", "~")


def mark(rng: np.random.Generator, canvas: np.ndarray, kind: str, x: float, base: float, hd: float,
         pen: float) -> float:
    """Draw a non-digit mark on the skeleton canvas starting at column ``x``; return its width."""
    if kind == ".":
        y = base - uniform(rng, 0.0, 0.08) * hd
        r = max(0, int(round(uniform(rng, 0.0, 0.6) * pen / 2)))
        cv2.circle(canvas, (int(x + pen), int(y)), r, 1, -1)
        return pen * 2 + r
    if kind == ",":
        y = base - 0.02 * hd
        curve(canvas, bezier((x + pen, y - 0.05 * hd), (x + pen + 0.06 * hd, y + 0.08 * hd), (x, y + 0.2 * hd), 6))
        return pen * 2 + 0.08 * hd
    if kind == "-":
        y = base - uniform(rng, 0.3, 0.6) * hd
        w = uniform(rng, 0.25, 0.6) * hd
        line(canvas, (x, y), (x + w, y + uniform(rng, -0.08, 0.05) * hd))
        return w
    if kind == "=":
        y = base - uniform(rng, 0.3, 0.55) * hd
        w = uniform(rng, 0.3, 0.6) * hd
        d = uniform(rng, 0.12, 0.25) * hd
        line(canvas, (x, y - d / 2), (x + w, y - d / 2 + uniform(rng, -0.05, 0.05) * hd))
        line(canvas, (x, y + d / 2), (x + w, y + d / 2 + uniform(rng, -0.05, 0.05) * hd))
        return w
    if kind == "/":
        w = uniform(rng, 0.2, 0.4) * hd
        line(canvas, (x, base + 0.05 * hd), (x + w, base - uniform(rng, 0.7, 1.0) * hd))
        return w
    if kind == "/-":
        w = uniform(rng, 0.2, 0.35) * hd
        line(canvas, (x, base + 0.05 * hd), (x + w, base - 0.9 * hd))
        y = base - 0.5 * hd
        line(canvas, (x + w + 0.1 * hd, y), (x + w + 0.45 * hd, y))
        return w + 0.5 * hd
    if kind == "~":  # wavy trailing flourish, like the end of a cheque amount
        w = uniform(rng, 0.6, 2.0) * hd
        amp = uniform(rng, 0.04, 0.15) * hd
        y = base - uniform(rng, 0.05, 0.5) * hd
        xs = np.linspace(x, x + w, 24)
        ph = uniform(rng, 0, 2 * math.pi)
        per = uniform(rng, 0.4, 1.0) * hd
        curve(canvas, np.stack([xs, y + amp * np.sin(ph + 2 * math.pi * (xs - x) / per)], 1))
        return w
    return 0.0


def compose(rng: np.random.Generator, bank: Bank, label: str, st: Style) -> tuple[np.ndarray, list[list[float]]]:
    """Skeleton canvas (uint8 0/1) of the whole string and each digit's x-extent (working px)."""
    hd = st.hd
    glyphs = [glyph(rng, bank.pick(rng, int(c)), int(c), st) for c in label]
    n = len(label)
    # Marks inside the string: thousands separators (every 3 digits from the right) or random.
    seps: dict[int, str] = {}
    if chance(rng, 0.25) and n >= 4:
        kind = str(rng.choice([".", ".", ",", "'"]))
        for i in range(n - 3, 0, -3):
            if kind != "'" or chance(rng, 0.9):
                seps[i] = kind if kind != "'" else "."
    elif chance(rng, 0.08) and n >= 3:
        seps[int(rng.integers(1, n))] = str(rng.choice(_SEPARATORS))
    lead = str(rng.choice(_LEADING)) if chance(rng, 0.05) else None
    trail = str(rng.choice(_TRAILING)) if chance(rng, 0.3) else None

    margin = int(hd * 1.2) + 8
    total_w = sum(g.shape[1] for g in glyphs) + int(hd * (2.5 + 0.8 * n + 4)) + 2 * margin
    total_h = int(hd * 3.0) + 2 * margin
    canvas = np.zeros((total_h, total_w), np.uint8)
    base0 = margin + hd * 1.4
    x = float(margin)
    if lead:
        x += mark(rng, canvas, lead, x, base0, hd, st.pen) + uniform(rng, 0.1, 0.4) * hd
    extents: list[list[float]] = []
    exits: list[tuple[float, float]] = []
    base = base0
    for i, g in enumerate(glyphs):
        gh, gw = g.shape
        ys, xs = np.nonzero(g)
        if len(ys) == 0:
            ys, xs = np.array([gh // 2]), np.array([gw // 2])
        gtop, gbot = int(ys[0]), int(ys[-1])  # nonzero() is in row order
        xmin, xmax = int(xs.min()), int(xs.max())
        base = base0 + st.slope * (x - margin) + rng.normal(0, st.base_jitter) * hd
        top = int(round(base - gbot))
        left = int(round(x - xmin))
        top = max(0, min(top, total_h - gh))
        left = max(0, min(left, total_w - gw))
        region = canvas[top : top + gh, left : left + gw]
        np.maximum(region, g, out=region)
        x0, x1 = left + xmin, left + xmax + 1
        extents.append([x0, x1])
        # Entry (leftmost ink in the upper 70%) and exit (rightmost ink in the lower 60%).
        up = ys <= gtop + 0.7 * (gbot - gtop)
        k_in = np.argmin(np.where(up, xs, 10 ** 6))
        lo = ys >= gtop + 0.4 * (gbot - gtop)
        k_out = np.argmax(np.where(lo, xs, -1))
        entry = (left + xs[k_in], top + ys[k_in])
        if i > 0 and chance(rng, st.cursive) and (i not in seps):
            px, py = exits[-1]
            if entry[0] - px > -0.1 * hd:
                mx = (px + entry[0]) / 2
                my = max(py, entry[1]) + uniform(rng, 0.0, 0.25) * hd
                curve(canvas, bezier((px, py), (mx, my), entry, 10))
        exits.append((left + xs[k_out], top + ys[k_out]))
        gap = (st.gap + rng.normal(0, st.gap_jitter)) * hd
        x = x1 + gap
        if i + 1 in seps:
            x = max(x, x1 + 0.05 * hd)
            x += mark(rng, canvas, seps[i + 1], x, base, hd, st.pen) + uniform(rng, 0.02, 0.2) * hd
    if trail:
        x_last = extents[-1][1] + uniform(rng, 0.05, 0.4) * hd
        if trail == ".-":
            x_last += mark(rng, canvas, ".", x_last, base, hd, st.pen) + 0.1 * hd
            trail = "-"
        mark(rng, canvas, trail, x_last, base, hd, st.pen)
    if chance(rng, 0.08):  # underline
        y = base0 + st.slope * (extents[-1][1] / 2) + uniform(rng, 0.1, 0.35) * hd
        xa = extents[0][0] - uniform(rng, 0, 0.5) * hd
        xb = extents[-1][1] + uniform(rng, 0, 0.8) * hd
        line(canvas, (xa, y), (xb, y + uniform(rng, -0.1, 0.1) * hd))
    if chance(rng, 0.05):  # tick marks above or below
        for _ in range(int(rng.integers(1, 3))):
            xt = uniform(rng, extents[0][0], extents[-1][1])
            yt = base0 + (uniform(rng, 0.15, 0.3) if chance(rng, 0.5) else -uniform(rng, 1.15, 1.35)) * hd
            line(canvas, (xt, yt), (xt + 0.12 * hd, yt - 0.15 * hd))
    return canvas, extents


def pen(canvas: np.ndarray, width: float) -> np.ndarray:
    """Redraw a skeleton with a round pen of ``width``: float32 ink coverage 0..1."""
    dist = cv2.distanceTransform((canvas == 0).astype(np.uint8), cv2.DIST_L2, 5)
    return np.clip(width / 2 + 0.5 - dist, 0, 1)
