"""Pictures for people: a confusion-matrix PNG and a grid of misclassified test digits."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw, ImageFont

CELL = 44


def confusion_png(confusion: np.ndarray) -> bytes:
    """The 10x10 confusion matrix as a heat map; rows are true digits, columns predicted."""
    font = ImageFont.load_default()
    size = CELL * 11 + 10
    image = Image.new("RGB", (size, size + 20), "white")
    draw = ImageDraw.Draw(image)
    row_totals = np.maximum(confusion.sum(axis=1, keepdims=True), 1)
    share = confusion / row_totals
    for d in range(10):
        draw.text((CELL * (d + 1) + CELL // 2 - 3, 4), str(d), fill="black", font=font)
        draw.text((CELL // 2 - 3, CELL * (d + 1) + CELL // 2 - 6), str(d), fill="black", font=font)
    for t in range(10):
        for p in range(10):
            x0, y0 = CELL * (p + 1), CELL * (t + 1)
            if t == p:
                colour = (40, 120 + int(100 * share[t, p]), 60)
            else:
                heat = min(1.0, share[t, p] * 50)  # off-diagonal counts are tiny: amplify
                colour = (255, int(255 - 200 * heat), int(255 - 200 * heat))
            draw.rectangle([x0, y0, x0 + CELL - 2, y0 + CELL - 2], fill=colour)
            text = str(int(confusion[t, p]))
            draw.text((x0 + 4, y0 + CELL // 2 - 6), text, fill="white" if t == p else "black", font=font)
    draw.text((CELL, size + 2), "rows: true digit, columns: predicted", fill="black", font=font)
    return _png(image)


def misclassified_png(images: np.ndarray, labels: np.ndarray, predicted: np.ndarray,
                      confidence: np.ndarray, limit: int = 100) -> bytes:
    """Up to ``limit`` misclassified digits, most confident mistakes first, captioned true->pred."""
    wrong = np.flatnonzero(labels != predicted)
    wrong = wrong[np.argsort(-confidence[wrong])][:limit]
    columns = 10
    rows = max(1, int(np.ceil(len(wrong) / columns)))
    tile = 28 * 3
    image = Image.new("RGB", (columns * (tile + 6), rows * (tile + 20)), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default()
    for n, index in enumerate(wrong):
        x, y = (n % columns) * (tile + 6), (n // columns) * (tile + 20)
        digit = Image.fromarray(255 - images[index]).resize((tile, tile), Image.Resampling.NEAREST)
        image.paste(digit.convert("RGB"), (x, y))
        draw.text((x + 2, y + tile + 2), f"{labels[index]}->{predicted[index]} {confidence[index]:.2f}",
                  fill="black", font=font)
    return _png(image)


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
