"""Synthetic scans made from MNIST digits: ink on paper, any size, off-centre, degraded.

Used by the trainer's scan-like evaluation, by the tests and by the benchmarks. Digits come
from the MNIST *test* set only for evaluation; nothing here is ever trained on.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageFilter


def render_scan(digit: np.ndarray, height: int = 120, canvas: tuple[int, int] = (200, 260),
                offset: tuple[int, int] = (30, 80), paper: int = 200, ink: int = 30,
                fmt: str = "PNG") -> bytes:
    """Draw an MNIST digit (white on black, 28x28) as dark ink on grey paper, encoded."""
    big = Image.fromarray(digit).resize((height, height), Image.Resampling.BILINEAR)
    alpha = np.asarray(big, dtype=np.float32) / 255.0
    page = np.full(canvas, float(paper), dtype=np.float32)
    top, left = offset
    region = page[top : top + height, left : left + height]
    region[:] = region * (1.0 - alpha) + ink * alpha
    return _encode(page, fmt)


def random_scan(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    """One realistic scan of ``digit``: 30-300 px high, rotated, noisy, blurred, PNG or JPEG."""
    height = int(rng.integers(30, 301))
    big = Image.fromarray(digit).resize((height, height), Image.Resampling.BICUBIC)
    big = big.rotate(float(rng.uniform(-8, 8)), resample=Image.Resampling.BILINEAR, expand=True)
    alpha = np.clip(np.asarray(big, dtype=np.float32) / 255.0, 0.0, 1.0)
    h, w = alpha.shape
    margin_y, margin_x = int(rng.integers(4, h // 2 + 8)), int(rng.integers(4, w // 2 + 8))
    canvas = (h + margin_y + int(rng.integers(4, h // 2 + 8)), w + margin_x + int(rng.integers(4, w // 2 + 8)))
    paper = float(rng.uniform(150, 245))
    ink = float(rng.uniform(0, min(90, paper - 70)))
    # Uneven lighting: a gentle gradient across the page.
    yy, xx = np.mgrid[0 : canvas[0], 0 : canvas[1]].astype(np.float32)
    light = 1.0 + rng.uniform(-0.08, 0.08) * (yy / canvas[0] - 0.5) + rng.uniform(-0.08, 0.08) * (xx / canvas[1] - 0.5)
    page = np.full(canvas, paper, dtype=np.float32) * light
    region = page[margin_y : margin_y + h, margin_x : margin_x + w]
    region[:] = region * (1.0 - alpha) + ink * alpha
    page += rng.normal(0.0, rng.uniform(1.0, 8.0), canvas)
    image = Image.fromarray(np.clip(page, 0, 255).astype(np.uint8))
    if rng.random() < 0.5:
        image = image.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.3, 0.6 + height / 150))))
    if rng.random() < 0.5:
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=int(rng.integers(35, 95)))
        return buffer.getvalue()
    return _encode(np.asarray(image, dtype=np.float32), "PNG")


def _encode(page: np.ndarray, fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.clip(page, 0, 255).astype(np.uint8)).save(buffer, format=fmt)
    return buffer.getvalue()
