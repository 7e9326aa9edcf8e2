"""Synthetic scans made from MNIST digits: ink on paper, any size, off-centre, degraded.

Used by the trainer's scan-like evaluation, by the tests and by the benchmarks. Evaluation
draws its digits from the MNIST *test* set; nothing here is ever trained on.

Three kinds, as users send them: a single digit, a digit in a printed box, and a number of
2 to 6 digits. Each is rendered as dark ink on grey paper with uneven light, sensor noise,
optional blur and optional JPEG compression.
"""

from __future__ import annotations

import io
from collections.abc import Iterator

import numpy as np
from PIL import Image, ImageFilter

KINDS = ("single", "boxed", "number")


def render_scan(digit: np.ndarray, height: int = 120, canvas: tuple[int, int] = (200, 260),
                offset: tuple[int, int] = (30, 80), paper: int = 200, ink: int = 30,
                fmt: str = "PNG") -> bytes:
    """Draw an MNIST digit (white on black, 28x28) as dark ink on grey paper, encoded; no noise."""
    big = Image.fromarray(digit).resize((height, height), Image.Resampling.BILINEAR)
    alpha = np.asarray(big, dtype=np.float32) / 255.0
    page = np.full(canvas, float(paper), dtype=np.float32)
    top, left = offset
    region = page[top : top + height, left : left + height]
    region[:] = region * (1.0 - alpha) + ink * alpha
    return encode(Image.fromarray(np.clip(page, 0, 255).astype(np.uint8)), fmt)


def random_scan(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    """One realistic scan of ``digit``: 30-300 px high, rotated, noisy, blurred, PNG or JPEG."""
    return sized_scan(digit, int(rng.integers(30, 301)), rng)


# Digit heights whose pages come out about 200x200 px (median 197x197 px): the ink fills
# about two thirds of the height, and the margins add about half of it again.
HEIGHTS_FOR_200PX_PAGES = (170, 230)


def sized_scan(digit: np.ndarray, height: int, rng: np.random.Generator) -> bytes:
    """A realistic scan of ``digit`` drawn ``height`` px high (the page is about twice that)."""
    return _render(_digit_alpha(digit, height, rng), height, rng)


def boxed_scan(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    """``digit`` written inside a printed box, as on a form; the box may touch the digit."""
    height = int(rng.integers(30, 201))
    return _render(_add_box(_digit_alpha(digit, height, rng), height, rng), height, rng)


def number_scan(digits: list[np.ndarray], rng: np.random.Generator) -> bytes:
    """A handwritten number: the digits side by side, 30-120 px high, uneven gaps and baseline."""
    height = int(rng.integers(30, 121))
    alphas = [_digit_alpha(digit, height, rng) for digit in digits]
    return _render(_side_by_side(alphas, height, rng), height, rng)


def scan_set(images: np.ndarray, labels: np.ndarray, kind: str, count: int,
             seed: int = 0) -> Iterator[tuple[bytes, str]]:
    """``count`` scans of one ``kind`` with their true digit strings, reproducible by ``seed``."""
    rng = np.random.default_rng([seed, KINDS.index(kind)])
    for _ in range(count):
        if kind == "number":
            picks = rng.choice(len(images), size=int(rng.integers(2, 7)), replace=False)
            yield number_scan([images[i] for i in picks], rng), "".join(str(int(labels[i])) for i in picks)
            continue
        index = int(rng.integers(len(images)))
        scan = random_scan if kind == "single" else boxed_scan
        yield scan(images[index], rng), str(int(labels[index]))


def _digit_alpha(digit: np.ndarray, height: int, rng: np.random.Generator) -> np.ndarray:
    """Ink coverage (0..1) of one digit scaled to ``height`` and rotated a little."""
    big = Image.fromarray(digit).resize((height, height), Image.Resampling.BICUBIC)
    big = big.rotate(float(rng.uniform(-8, 8)), resample=Image.Resampling.BILINEAR, expand=True)
    alpha = np.clip(np.asarray(big, dtype=np.float32) / 255.0, 0.0, 1.0)
    # MNIST's 28x28 frame has empty margins; trim them so that spacing is under our control.
    rows, cols = np.flatnonzero(alpha.max(axis=1) > 0.05), np.flatnonzero(alpha.max(axis=0) > 0.05)
    return alpha[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def _add_box(alpha: np.ndarray, height: int, rng: np.random.Generator) -> np.ndarray:
    h, w = alpha.shape
    pad_y = int(height * rng.uniform(0.0, 0.3))
    pad_x = max(int(height * rng.uniform(0.0, 0.3)), (h - w) // 2 + pad_y // 2)
    out = np.zeros((h + 2 * pad_y + 2, w + 2 * pad_x + 2), np.float32)
    out[pad_y + 1 : pad_y + 1 + h, pad_x + 1 : pad_x + 1 + w] = alpha
    thick = max(1, int(round(height * rng.uniform(0.01, 0.03))))
    tone = float(rng.uniform(0.6, 1.0))  # printed lines are often lighter than the pen
    for edge in (np.s_[:thick, :], np.s_[-thick:, :], np.s_[:, :thick], np.s_[:, -thick:]):
        out[edge] = np.maximum(out[edge], tone)
    return out


def _side_by_side(alphas: list[np.ndarray], height: int, rng: np.random.Generator) -> np.ndarray:
    tall = max(a.shape[0] for a in alphas) + int(height * 0.2)
    gaps = [int(height * rng.uniform(0.08, 0.35)) for _ in alphas[1:]] + [0]
    out = np.zeros((tall, sum(a.shape[1] for a in alphas) + sum(gaps)), np.float32)
    left = 0
    for alpha, gap in zip(alphas, gaps):
        h, w = alpha.shape
        top = int(rng.integers(0, tall - h + 1))  # a wandering baseline
        out[top : top + h, left : left + w] = np.maximum(out[top : top + h, left : left + w], alpha)
        left += w + gap
    return out


def _render(alpha: np.ndarray, height: int, rng: np.random.Generator) -> bytes:
    """Lay ink coverage on paper at a random offset, then light, noise, blur and compression."""
    h, w = alpha.shape
    top, left = int(rng.integers(4, h // 2 + 8)), int(rng.integers(4, w // 2 + 8))
    canvas = (h + top + int(rng.integers(4, h // 2 + 8)), w + left + int(rng.integers(4, w // 2 + 8)))
    paper = float(rng.uniform(150, 245))
    ink = float(rng.uniform(0, min(90, paper - 70)))
    yy, xx = np.mgrid[0 : canvas[0], 0 : canvas[1]].astype(np.float32)
    # Uneven lighting: a gentle gradient across the page.
    light = 1.0 + rng.uniform(-0.08, 0.08) * (yy / canvas[0] - 0.5) + rng.uniform(-0.08, 0.08) * (xx / canvas[1] - 0.5)
    page = np.full(canvas, paper, dtype=np.float32) * light
    region = page[top : top + h, left : left + w]
    region[:] = region * (1.0 - alpha) + ink * alpha
    page += rng.normal(0.0, rng.uniform(1.0, 8.0), canvas)
    image = Image.fromarray(np.clip(page, 0, 255).astype(np.uint8))
    if rng.random() < 0.5:
        image = image.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.3, 0.6 + height / 150))))
    if rng.random() < 0.5:
        return encode(image, "JPEG", quality=int(rng.integers(35, 95)))
    return encode(image, "PNG")


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    """``image`` as a file of format ``fmt`` (Pillow's name; ``options`` go to its encoder)."""
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()
