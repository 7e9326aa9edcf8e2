"""A contact sheet of generated samples, to see what the string model is trained on."""

from __future__ import annotations

import cv2
import numpy as np

from scans.strings import string_image
from scans.synth.bank import Bank
from scans.synth.render import sample

_RAW_ROWS = 64
_TILE_COLS = 400


def contact_sheet(bank: Bank, n: int = 24, seed: int = 0, cols: int = 2) -> bytes:
    """PNG bytes of samples 0..n-1 of the set with ``seed``: each raw synthetic scan (scaled to
    64 px high, true digit extents marked in red below it) over the 32-row model input that
    :func:`scans.strings.string_image` makes of it (shown twice as large), and its label."""
    tiles = [_tile(*sample(bank, seed, i)) for i in range(n)]
    blank = np.zeros_like(tiles[0])
    rows = [np.concatenate(tiles[i : i + cols] + [blank] * (cols - len(tiles[i : i + cols])), 1)
            for i in range(0, n, cols)]
    ok, png = cv2.imencode(".png", np.concatenate(rows, 0))
    if not ok:
        raise ValueError("the contact sheet could not be encoded")
    return png.tobytes()


def _tile(image: np.ndarray, label: str, extents: list[tuple[float, float]]) -> np.ndarray:
    s = _RAW_ROWS / image.shape[0]
    raw = cv2.resize(image, (max(1, int(image.shape[1] * s)), _RAW_ROWS), interpolation=cv2.INTER_LINEAR)
    raw = cv2.cvtColor(raw[:, :_TILE_COLS], cv2.COLOR_GRAY2BGR)
    bar = np.full((6, raw.shape[1], 3), 255, np.uint8)
    for a, b in extents:
        left, right = int(a * s), int(b * s)
        bar[1:5, max(0, left) : max(left + 1, right - 1)] = (0, 0, 255)
    x = string_image(image).image
    x = cv2.cvtColor(cv2.resize(x, (x.shape[1] * 2, x.shape[0] * 2), interpolation=cv2.INTER_NEAREST),
                     cv2.COLOR_GRAY2BGR)
    tile = np.full((_RAW_ROWS + 6 + x.shape[0] + 20, _TILE_COLS, 3), 255, np.uint8)
    tile[:_RAW_ROWS, : raw.shape[1]] = raw
    tile[_RAW_ROWS : _RAW_ROWS + 6, : bar.shape[1]] = bar
    tile[_RAW_ROWS + 6 : _RAW_ROWS + 6 + x.shape[0], : min(_TILE_COLS, x.shape[1])] = x[:, :_TILE_COLS]
    cv2.putText(tile, label, (2, tile.shape[0] - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 120, 0), 1, cv2.LINE_AA)
    return cv2.copyMakeBorder(tile, 2, 2, 2, 2, cv2.BORDER_CONSTANT, value=(128, 128, 128))
