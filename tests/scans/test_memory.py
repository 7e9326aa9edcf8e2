"""Peak memory of a worker reading the largest image it accepts, in every format and mode.

Each image is mostly blank paper with one MNIST digit about 100 px high. A worker-like process
(it has imported the worker's modules and warmed the kernels, as ``python -m worker`` does) reads
every image in turn with ``scans.preprocess``; before each, its peak RSS (VmHWM) is reset to the
current RSS, so each image's own peak is measured, on top of whatever the previous ones left, as in
a worker that reads image after image. Every peak must stay under 300 MB.

The largest accepted image: 40 MP (``DEFAULT_MAX_PIXELS``) for PNG, of every kind, and baseline
JPEG, which are read at a reduced scale in bounded memory; for the formats Pillow decodes whole
(TIFF, BMP, GIF, WebP, progressive and CMYK JPEG), the largest page within ``MEMORY_BUDGET``,
found from the header-only estimate, and shown to be the largest: 5% more is refused.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from scans.decode import DEFAULT_MAX_PIXELS, MEMORY_BUDGET, open_scan
from tests.scans import images

ROOT = Path(__file__).resolve().parents[2]
LIMIT_MB = 300
SIDE = math.isqrt(DEFAULT_MAX_PIXELS)  # 6324: the largest square page accepted
DIGIT = 100  # px high
PAPER, INK = 230, 25

_MEASURE = r"""
import json, sys

def status(key):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) // 1024 for line in f if line.startswith(key))

import worker.jobs, worker.runner  # the worker's modules, as `python -m worker` imports them
import scans
scans.warm_up()
for path in sys.argv[1:]:
    rest = status("VmRSS")
    with open(path, "rb") as f:
        data = f.read()
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # the peak starts again from the current RSS
    try:
        digits = scans.preprocess(data)
        result = {"boxes": digits.boxes.tolist()}
    except scans.ImageTooLargeError as exc:
        result = {"refused": str(exc)}
    print(json.dumps({"path": path, "rest": rest, "peak": status("VmHWM"), **result}), flush=True)
    del data
"""


def _digit(mnist) -> np.ndarray:
    """Ink coverage (0..1) of an MNIST 7, ``DIGIT`` px high."""
    return np.asarray(Image.fromarray(mnist.x_test[0]).resize((DIGIT, DIGIT), Image.Resampling.BILINEAR)) / 255.0


def _page(side: int, digit: np.ndarray) -> np.ndarray:
    page = np.full((side, side), PAPER, np.uint8)
    top = left = side // 2
    page[top : top + DIGIT, left : left + DIGIT] = np.rint(PAPER - (PAPER - INK) * digit).astype(np.uint8)
    return page


def _png_rows(side: int, digit: np.ndarray, kind: str) -> tuple[int, int, Callable[[int], np.ndarray], bytes]:
    """colour type, depth, row function and extra chunks of a ``side`` x ``side`` PNG of one ``kind``."""
    top = side // 2
    patch = np.rint(PAPER - (PAPER - INK) * digit).astype(np.uint8)

    def grey(y: int) -> np.ndarray:
        row = np.full(side, PAPER, np.uint8)
        if top <= y < top + DIGIT:
            row[top : top + DIGIT] = patch[y - top]
        return row

    if kind == "RGBA canvas":  # a browser canvas: transparent, the ink only in alpha
        return 6, 8, lambda y: np.stack([np.zeros(side, np.uint8)] * 3 + [255 - grey(y)], axis=1), b""
    if kind == "RGBA 16-bit interlaced":
        return 6, 16, lambda y: np.stack([grey(y).astype(np.uint16) * 257] * 3
                                         + [np.full(side, 65535, np.uint16)], axis=1), b""
    if kind == "grey 16-bit":
        return 0, 16, lambda y: grey(y).astype(np.uint16) * 257, b""
    if kind == "grey 1-bit":
        return 0, 1, lambda y: (grey(y) > 128).astype(np.uint8), b""
    if kind == "palette 4-bit with transparency":
        palette = images.chunk(b"PLTE", bytes([0, 0, 0, PAPER, PAPER, PAPER] + [9] * 42))
        return 3, 4, lambda y: (grey(y) > 128).astype(np.uint8), palette + images.chunk(b"tRNS", b"\xff\xff")
    if kind == "grey+alpha, EXIF turned":
        exif = images.chunk(b"eXIf", images.exif_with_orientation(6))
        return 4, 8, lambda y: np.stack([grey(y), np.full(side, 255, np.uint8)], axis=1), exif
    if kind == "RGB, 20 MB file":
        return 2, 8, lambda y: np.repeat(grey(y), 3), b""
    raise ValueError(kind)


PNG_KINDS = ["RGBA canvas", "RGBA 16-bit interlaced", "grey 16-bit", "grey 1-bit", "palette 4-bit with transparency",
             "grey+alpha, EXIF turned", "RGB, 20 MB file"]
# (format, mode, save options): what Pillow decodes whole, plus the JPEGs that need the budget.
PILLOW_CASES = [
    ("TIFF", "1", {"compression": "group4"}), ("TIFF", "L", {"compression": "tiff_deflate"}),
    ("TIFF", "RGB", {"compression": "tiff_lzw"}), ("TIFF", "RGBA", {"compression": "tiff_deflate"}),
    ("TIFF", "CMYK", {"compression": "tiff_deflate"}), ("TIFF", "I;16", {"compression": "tiff_deflate"}),
    ("TIFF", "F", {"compression": "tiff_deflate"}), ("TIFF", "LAB", {"compression": "tiff_deflate"}),
    ("TIFF", "YCbCr", {"compression": "jpeg"}), ("TIFF", "P", {"compression": "packbits"}),
    ("TIFF", "L", {"compression": "tiff_deflate", "exif": images.exif_with_orientation(8)}),
    ("BMP", "1", {}), ("BMP", "P", {}), ("BMP", "RGB", {}), ("BMP", "RGBA", {}),
    ("GIF", "P", {}), ("GIF", "P", {"transparency": 0}),
    ("WEBP", "RGB", {"quality": 80}), ("WEBP", "RGBA", {"lossless": True}),
    ("JPEG", "RGB", {"progressive": True}), ("JPEG", "CMYK", {}),
]


def _pillow_image(page: np.ndarray, mode: str) -> Image.Image:
    image = Image.fromarray(page)
    if mode == "I;16":
        return Image.fromarray(page.astype(np.uint16) * 257)
    if mode == "F":
        return Image.fromarray(page.astype(np.float32) / 255.0)
    if mode == "RGBA":  # real transparency: the paper transparent, the ink opaque
        alpha = np.where(page < 128, 255, 0).astype(np.uint8)
        return Image.fromarray(np.dstack([page, page, page, alpha]), "RGBA")
    return image if mode == "L" else image.convert(mode)


def _total(data: bytes) -> int:
    """Memory the first reading of ``data`` takes by the header-only estimate, file included."""
    scan = open_scan(data)
    return len(data) + scan.memory(8, scan.cells(8))


def _accepted(data: bytes) -> bool:
    """True when the first reading (at 1/8 scale) fits the budget, by the header-only estimate."""
    scan = open_scan(data)
    return scan.affordable(8, scan.cells(8))


def _largest(make: Callable[[int], bytes]) -> tuple[int, bytes]:
    """The largest square side accepted within the budget (to 5%: 5% more is refused), and its file.

    The search starts from a straight-line fit of the estimate to two small pages."""
    small, large = 400, 800
    low, high = (len(d) + open_scan(d).memory(8, open_scan(d).cells(8)) for d in (make(small), make(large)))
    per_pixel = (high - low) / (large**2 - small**2)
    side = min(SIDE, int(math.sqrt(max(MEMORY_BUDGET - (low - per_pixel * small**2), 1) / per_pixel)))
    lo: tuple[int, bytes] | None = None
    hi = 0
    while lo is None or not hi or hi > 1.05 * lo[0]:
        data = make(side)
        if _accepted(data):
            lo = (side, data)
            if side == SIDE:
                return lo
        else:
            hi = side
        if lo is None:
            side = int(side / 1.1)
        elif not hi:
            side = min(SIDE, int(side * 1.1))
        else:
            side = math.isqrt(lo[0] * hi)
    return lo


def _measure(paths: list[Path]) -> dict[str, dict]:
    out = subprocess.run([sys.executable, "-c", _MEASURE, *map(str, paths)], cwd=ROOT, capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return {Path(row["path"]).name: row for row in map(json.loads, out.stdout.splitlines())}


@pytest.fixture(scope="module")
def largest_images(tmp_path_factory, mnist) -> dict[str, tuple[int, tuple[int, int], Path]]:
    """name -> (side, centre of the digit in the upright page, file) of the largest accepted
    image of each format and mode."""
    folder = tmp_path_factory.mktemp("largest")
    digit = _digit(mnist)
    centre = SIDE // 2 + DIGIT // 2
    made: dict[str, tuple[int, tuple[int, int], bytes]] = {}
    for kind in PNG_KINDS:
        colour, depth, row, extra = _png_rows(SIDE, digit, kind)
        data = images.png(SIDE, SIDE, colour, depth, row, interlace="interlaced" in kind, extra=extra)
        if "20 MB" in kind:
            data = images.pad_png(data, 20 << 20)
        turned = (SIDE - 1 - centre, centre) if "EXIF" in kind else (centre, centre)  # 6: a quarter turn right
        made[f"PNG {kind}"] = (SIDE, turned, data)
    page = _page(SIDE, digit)
    made["JPEG grey"] = (SIDE, (centre, centre), images.encode(Image.fromarray(page), "JPEG", quality=90))
    left = images.encode(Image.fromarray(page).convert("RGB"), "JPEG", quality=90, exif=images.exif_with_orientation(8))
    made["JPEG colour, EXIF turned, 20 MB file"] = (SIDE, (centre, SIDE - 1 - centre), images.pad_jpeg(left, 20 << 20))
    del page
    for fmt, mode, options in PILLOW_CASES:
        def make(side: int, fmt=fmt, mode=mode, options=options) -> bytes:
            return images.encode(_pillow_image(_page(side, digit), mode), fmt, **options)
        name = f"{fmt} {mode}" + (" with transparency" if "transparency" in options else "") + (
            " progressive" if options.get("progressive") else "") + (", EXIF turned" if "exif" in options else "")
        side, data = _largest(make)
        at = side // 2 + DIGIT // 2
        made[name] = (side, (at, side - 1 - at) if "exif" in options else (at, at), data)  # 8: a quarter left
    files = {}
    for i, (name, (side, at, data)) in enumerate(made.items()):
        path = folder / f"{i:02d}.img"
        path.write_bytes(data)
        files[name] = (side, at, path)
    return files


def test_a_worker_stays_under_300_mb_with_the_largest_image_of_every_format_and_mode(largest_images):
    rows = _measure([path for _, _, path in largest_images.values()])
    report = {name: f"{name:40s} {side}x{side}, {path.stat().st_size / 2**20:4.1f} MB file: peak "
                    f"{rows[path.name]['peak']} MB (at rest {rows[path.name]['rest']} MB)"
              for name, (side, _, path) in largest_images.items()}
    print("\n".join(report.values()))
    for name, (_, (cx, cy), path) in largest_images.items():
        row = rows[path.name]
        assert "refused" not in row, f"{name}: the largest accepted image was refused: {row['refused']}"
        assert row["peak"] < LIMIT_MB, report[name]
        # Beyond what the process held at rest: the file and its decoding, within the budget.
        assert row["peak"] - row["rest"] <= (MEMORY_BUDGET >> 20) + 8, report[name]
        # The digit is found where it was drawn, in the upright page's pixels.
        [(x, y, w, h)] = row["boxes"]
        assert abs(x + w / 2 - cx) < 20 and abs(y + h / 2 - cy) < 20, (name, row)
        assert 0.5 * DIGIT <= max(w, h) <= DIGIT + 10, (name, row)
