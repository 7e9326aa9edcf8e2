"""The writer and the digits: a string's label, its writer's style, and each digit's glyph.

A glyph is one MNIST training digit's centre line, scaled to the writer's digit height,
slanted, rotated a little and bent by a smooth random field (a different hand, the same
digit), then rasterised on a skeleton canvas (uint8 0/1). National forms are drawn on that
skeleton (a European ``1`` with a long up-stroke flag and an optional foot, a ``7`` with a
crossbar), the same for a whole string, as a writer would.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from contracts.models import MAX_STRING_DIGITS
from scans.synth.draw import chance, line, uniform

# Label lengths 1..MAX_STRING_DIGITS: mostly 4-10 digits.
_LENGTH_W = np.array([3, 4, 6, 7, 7, 7, 7, 8, 6, 6, 4, 3], np.float64)
_LENGTH_P = _LENGTH_W / _LENGTH_W.sum()
_BENFORD = np.log10(1 + 1 / np.arange(1, 10))
_BENFORD = _BENFORD / _BENFORD.sum()
assert len(_LENGTH_P) == MAX_STRING_DIGITS


@dataclass
class Style:
    """What stays the same within one string: the writer, the pen, the form."""

    hd: float            # digit height at the working resolution (px)
    width: float         # horizontal scale of glyphs
    slant: float         # shear (x += slant * (y - centre))
    gap: float           # mean gap between digits, in digit heights (negative: overlap)
    gap_jitter: float
    size_jitter: float
    base_jitter: float
    slope: float         # baseline slope (dy/dx)
    pen: float           # pen width, working px
    flag1: bool          # European 1 with an up-stroke flag
    foot1: bool
    bar7: bool
    cursive: float       # probability of a joining stroke between two digits
    elastic: float       # amplitude of the per-glyph smooth distortion (x digit height)


def draw_style(rng: np.random.Generator) -> Style:
    hd = uniform(rng, 30, 46)
    # Pen width relative to the digit height: log-uniform from ballpoint to marker.
    pen = hd * math.exp(uniform(rng, math.log(0.035), math.log(0.16)))
    cursive = 0.0 if chance(rng, 0.55) else uniform(rng, 0.3, 1.0)
    gap = uniform(rng, -0.18, 0.45) if cursive == 0 else uniform(rng, -0.15, 0.25)
    if chance(rng, 0.15):
        gap = uniform(rng, 0.45, 1.0)  # widely spaced, as on forms
    return Style(
        hd=hd,
        width=math.exp(uniform(rng, -0.25, 0.2)),
        slant=uniform(rng, -0.15, 0.45) if chance(rng, 0.7) else uniform(rng, -0.4, 0.6),
        gap=gap,
        gap_jitter=uniform(rng, 0.0, 0.15),
        size_jitter=uniform(rng, 0.0, 0.12),
        base_jitter=uniform(rng, 0.0, 0.08),
        slope=uniform(rng, -0.06, 0.06),
        pen=max(1.0, pen),
        flag1=chance(rng, 0.5),
        foot1=chance(rng, 0.1),
        bar7=chance(rng, 0.45),
        cursive=cursive,
        elastic=0.0 if chance(rng, 0.2) else uniform(rng, 0.02, 0.12),
    )


def draw_label(rng: np.random.Generator) -> str:
    """1-12 digits; mostly uniform digits, some amount-like strings ending in zeros."""
    n = int(rng.choice(np.arange(1, MAX_STRING_DIGITS + 1), p=_LENGTH_P))
    digits = rng.integers(0, 10, n)
    if chance(rng, 0.3):  # numbers met in practice start with small digits more often (Benford)
        digits[0] = int(rng.choice(np.arange(1, 10), p=_BENFORD))
    r = rng.random()
    if r < 0.2 and n >= 2:  # amounts: a few leading digits then zeros
        lead = int(rng.integers(1, min(n, 3) + 1))
        digits[lead:] = 0
        if digits[0] == 0:
            digits[0] = int(rng.integers(1, 10))
    elif r < 0.3 and n >= 2:  # runs of a repeated digit (CTC must separate them)
        i = int(rng.integers(0, n - 1))
        j = int(rng.integers(i + 2, n + 1))
        digits[i:j] = digits[i]
    return "".join(str(int(d)) for d in digits)


def glyph(rng: np.random.Generator, points: np.ndarray, digit: int, st: Style) -> np.ndarray:
    """Skeleton (uint8 0/1) of one digit at the working resolution: the digit's centre-line
    points scaled to the writer's height, sheared (slant) and rotated, then rasterised."""
    ch = float(np.ptp(points[:, 1])) + 1.0
    h = st.hd * math.exp(rng.normal(0, st.size_jitter))
    s = h / ch
    sx = s * st.width * math.exp(rng.normal(0, 0.08))
    shear = st.slant + rng.normal(0, 0.06)
    rot = math.radians(rng.normal(0, 3.0))
    a = np.array([[sx, 0], [0, s]], np.float64)
    a = np.array([[1, -shear], [0, 1]]) @ a
    c, si = math.cos(rot), math.sin(rot)
    a = (np.array([[c, -si], [si, c]]) @ a).astype(np.float32)
    q = points @ a.T
    if st.elastic > 0:  # smooth random displacement field: a different hand, the same digit
        q = q + _warp(rng, q, h, st.elastic)
    pad = 3 + (int(0.5 * h) if digit in (1, 7) else 0)  # room for a flag, foot or crossbar
    q -= q.min(0) - np.array([pad, 3], np.float32)
    qi = (q + 0.5).astype(np.int32)
    mx, my = qi.max(0).tolist()
    sk = np.zeros((my + 4, mx + pad + 1), np.uint8)
    sk[qi[:, 1], qi[:, 0]] = 1
    if digit == 1 and (st.flag1 or st.foot1):
        _one(rng, sk, h, st)
    elif digit == 7 and st.bar7:
        _crossbar(rng, sk, h)
    return sk


def _one(rng: np.random.Generator, sk: np.ndarray, h: float, st: Style) -> None:
    """A European 1: an up-stroke flag from the top going left and down, and/or a foot."""
    ys, xs = np.nonzero(sk)
    if not len(ys):
        return
    top, bot = int(ys.argmin()), int(ys.argmax())
    if st.flag1:
        length = h * uniform(rng, 0.2, 0.5)
        ang = math.radians(uniform(rng, 20, 65))  # below horizontal, going left
        x1 = xs[top] - length * math.cos(ang)
        y1 = ys[top] + length * math.sin(ang)
        line(sk, (x1, y1), (xs[top], ys[top]))
    if st.foot1:
        half = h * uniform(rng, 0.15, 0.25)
        line(sk, (xs[bot] - half, ys[bot]), (xs[bot] + half, ys[bot]))


def _crossbar(rng: np.random.Generator, sk: np.ndarray, h: float) -> None:
    """A crossed 7: a short bar across the stem, a little below the middle."""
    ys, xs = np.nonzero(sk)
    if not len(ys):
        return
    ymid = (ys.min() + ys.max()) / 2 + h * uniform(rng, -0.05, 0.1)
    row = xs[np.abs(ys - ymid) < 1.0]
    if len(row):
        xc = float(row.mean())
        half = h * uniform(rng, 0.15, 0.25)
        line(sk, (xc - half, ymid), (xc + half * uniform(rng, 0.6, 1.0), ymid - half * 0.1))


def _warp(rng: np.random.Generator, q: np.ndarray, h: float, amount: float) -> np.ndarray:
    """Displacements of points ``q`` (x, y) by a smooth random field: two plane waves per
    axis, 0.4-1.5 cycles per digit height, amplitude up to ``amount`` x height in total."""
    r = rng.random((4, 4))  # rows: (axis, wave) pairs; columns: angle, frequency, phase, amplitude
    ang = r[:, 0] * 2 * math.pi
    f = (0.4 + 1.1 * r[:, 1]) * 2 * math.pi / h
    k = np.stack([f * np.cos(ang), f * np.sin(ang)]).astype(np.float32)  # [2, 4]
    waves = np.sin(q @ k + (r[:, 2] * 2 * math.pi).astype(np.float32))    # [N, 4]
    amp = (r[:, 3] * 0.5 * amount * h).astype(np.float32)
    waves *= amp
    return np.stack([waves[:, 0] + waves[:, 1], waves[:, 2] + waves[:, 3]], 1)
