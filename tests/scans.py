"""Make scan-like test images from MNIST digits: dark ink on grey paper, off-centre."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image


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
    buffer = io.BytesIO()
    Image.fromarray(page.astype(np.uint8)).save(buffer, format=fmt)
    return buffer.getvalue()
