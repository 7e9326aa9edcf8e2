"""A deterministic fuzz corpus: small scans of every accepted format and colour mode, and
thousands of mutants of them (bit flips, overwritten bytes, truncations, header-only files,
corrupted chunk and segment lengths, corrupted header words, random tails, cut and repeated
ranges). Each mutant is named ``seed/kind/n``, which rebuilds it: ``mutant(seeds()[seed], kind, n)``."""

from __future__ import annotations

import io
import struct

import numpy as np
from PIL import Image

from tests.scans import images

WIDTH, HEIGHT = 36, 28
KINDS = ("flip", "bytes", "truncate", "header", "tail", "length", "word", "zero", "repeat", "cut")


def _page() -> np.ndarray:
    page = np.full((HEIGHT, WIDTH), 215, np.uint8)
    page[5:23, 15:20] = 30  # a "1"
    page[5:8, 11:20] = 30
    return page


def _png_seeds(page: np.ndarray) -> dict[str, bytes]:
    ink = page < 128
    grey = lambda y: page[y]  # noqa: E731
    out = {}
    for interlace in (False, True):
        tag = " interlaced" if interlace else ""
        for depth in (1, 2, 4, 8, 16):
            top = (1 << depth) - 1
            values = np.where(ink, 0, top).astype(np.uint16 if depth == 16 else np.uint8)
            out[f"PNG grey {depth}-bit{tag}"] = images.png(WIDTH, HEIGHT, 0, depth, lambda y, v=values: v[y],
                                                          interlace=interlace)
        for depth in (8, 16):
            scale = 257 if depth == 16 else 1
            dtype = np.uint16 if depth == 16 else np.uint8
            rgb = lambda y, s=scale, t=dtype: np.repeat(page[y].astype(t) * s, 3)  # noqa: E731
            out[f"PNG RGB {depth}-bit{tag}"] = images.png(WIDTH, HEIGHT, 2, depth, rgb, interlace=interlace)
            alpha = lambda y, s=scale, t=dtype: np.stack(  # noqa: E731
                [page[y].astype(t) * s, np.full(WIDTH, 255 * s, t)], axis=1)
            out[f"PNG grey+alpha {depth}-bit{tag}"] = images.png(WIDTH, HEIGHT, 4, depth, alpha, interlace=interlace)
            canvas = lambda y, s=scale, t=dtype: np.stack(  # noqa: E731
                [np.zeros(WIDTH, t)] * 3 + [(255 - page[y]).astype(t) * s], axis=1)
            out[f"PNG RGBA {depth}-bit{tag}"] = images.png(WIDTH, HEIGHT, 6, depth, canvas, interlace=interlace)
        for depth in (1, 2, 4, 8):
            palette = images.chunk(b"PLTE", bytes([20, 20, 20, 215, 215, 215]))
            values = np.where(ink, 0, 1).astype(np.uint8)
            out[f"PNG palette {depth}-bit{tag}"] = images.png(WIDTH, HEIGHT, 3, depth, lambda y, v=values: v[y],
                                                             interlace=interlace, extra=palette)
            out[f"PNG palette {depth}-bit transparent{tag}"] = images.png(
                WIDTH, HEIGHT, 3, depth, lambda y, v=values: v[y], interlace=interlace,
                extra=palette + images.chunk(b"tRNS", b"\xff\x00"))
    out["PNG grey with tRNS"] = images.png(WIDTH, HEIGHT, 0, 8, grey, extra=images.chunk(b"tRNS", b"\x00\xd7"))
    out["PNG grey, EXIF turned"] = images.png(WIDTH, HEIGHT, 0, 8, grey,
                                              extra=images.chunk(b"eXIf", images.exif_with_orientation(6)))
    out["PNG RGB, Pillow"] = images.encode(Image.fromarray(page).convert("RGB"), "PNG")
    return out


def _bmp_rle8(page: np.ndarray) -> bytes:
    """An 8-bit run-length BMP (Pillow reads them but does not write them)."""
    body = bytearray()
    for row in page[::-1]:
        for value in row:
            body += bytes([1, value])
        body += b"\x00\x00"
    body += b"\x00\x01"
    palette = b"".join(bytes([v, v, v, 0]) for v in range(256))
    header = struct.pack("<IiiHHIIiiII", 40, WIDTH, HEIGHT, 1, 8, 1, len(body), 2835, 2835, 256, 0)
    offset = 14 + len(header) + len(palette)
    return b"BM" + struct.pack("<IHHI", offset + len(body), 0, 0, offset) + header + palette + bytes(body)


def seeds() -> dict[str, bytes]:
    """A small scan of a "1" in every format and mode the gateway accepts."""
    page = _page()
    image = Image.fromarray(page)
    out = _png_seeds(page)
    exif = images.exif_with_orientation(8)
    for name, im, options in [
        ("JPEG grey", image, {}), ("JPEG colour", image.convert("RGB"), {}),
        ("JPEG progressive", image.convert("RGB"), {"progressive": True}), ("JPEG CMYK", image.convert("CMYK"), {}),
        ("JPEG 4:4:4, EXIF turned", image.convert("RGB"), {"subsampling": 0, "exif": exif}),
    ]:
        out[name] = images.encode(im, "JPEG", quality=90, **options)
    frames = [image.convert("P"), image.rotate(90).convert("P")]
    out["GIF palette"] = images.encode(frames[0], "GIF")
    out["GIF grey"] = images.encode(image, "GIF")
    out["GIF transparent"] = images.encode(frames[0], "GIF", transparency=0)
    out["GIF animated"] = images.encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)
    for mode in ("1", "L", "P", "RGB", "RGBA"):
        out[f"BMP {mode}"] = images.encode(image.convert(mode), "BMP")
    out["BMP RLE8"] = _bmp_rle8(page)
    rgba = Image.fromarray(np.dstack([page] * 3 + [np.where(page < 128, 255, 0).astype(np.uint8)]), "RGBA")
    for mode, im, options in [
        ("1", image.convert("1"), {}), ("1 G4", image.convert("1"), {"compression": "group4"}),
        ("L", image, {}), ("L deflate", image, {"compression": "tiff_deflate"}),
        ("L LZW", image, {"compression": "tiff_lzw"}), ("L packbits", image, {"compression": "packbits"}),
        ("P", image.convert("P"), {}), ("LA", image.convert("LA"), {}), ("RGB", image.convert("RGB"), {}),
        ("RGB JPEG", image.convert("RGB"), {"compression": "jpeg"}), ("RGBA", rgba, {}),
        ("CMYK", image.convert("CMYK"), {}), ("YCbCr", image.convert("YCbCr"), {}), ("LAB", image.convert("LAB"), {}),
        ("I;16", Image.fromarray(page.astype(np.uint16) * 257), {}),
        ("I;16B", Image.frombytes("I;16B", (WIDTH, HEIGHT), (page.astype(">u2") * 257).tobytes()), {}),
        ("I", Image.fromarray(page.astype(np.int32) * 257), {}),
        ("F", Image.fromarray(page.astype(np.float32) / 255), {}),
        ("RGB, EXIF turned", image.convert("RGB"), {"exif": exif}),
        ("2 pages", image, {"save_all": True, "append_images": [image.rotate(90)]}),
    ]:
        out[f"TIFF {mode}"] = images.encode(im, "TIFF", **options)
    out["WebP lossy"] = images.encode(image.convert("RGB"), "WEBP", quality=80)
    out["WebP lossless RGBA"] = images.encode(rgba, "WEBP", lossless=True)
    out["WebP animated"] = images.encode(image.convert("RGB"), "WEBP", save_all=True,
                                        append_images=[image.rotate(90).convert("RGB")], duration=100)
    for name in ("PNG RGB 8-bit", "PNG palette 4-bit transparent", "JPEG colour", "JPEG progressive", "GIF palette",
                 "BMP P", "BMP RLE8", "TIFF L deflate", "TIFF RGB", "WebP lossy", "WebP lossless RGBA"):
        out[f"{name}, header only"] = header_only(out[name])
    # The 20 bytes of issue #22: a signature, an IHDR length and type, and IEND.
    out["PNG, 20 bytes"] = images.SIGNATURE + b"\x00\x00\x00\x0dIHDRIEND"
    return out


def header_only(data: bytes) -> bytes:
    """The file up to where its pixels start, closed as its format closes a file."""
    if data.startswith(images.SIGNATURE):
        return data[: data.find(b"IDAT") - 4] + images.chunk(b"IEND", b"")
    if data.startswith(b"\xff\xd8"):
        return data[: data.find(b"\xff\xda")] + b"\xff\xd9"
    if data.startswith(b"GIF"):
        palette = 3 << ((data[10] & 7) + 1) if data[10] & 0x80 else 0
        return data[: 13 + palette] + b";"
    if data.startswith(b"BM"):
        return data[: struct.unpack("<I", data[10:14])[0]]
    if data.startswith(b"RIFF"):
        return data[:30]
    with Image.open(io.BytesIO(data)) as image:  # TIFF: up to the first strip
        return data[: min(image.tag_v2[273])]


def _chunk_lengths(data: bytes) -> list[int]:
    """Offsets of the length fields of a PNG's chunks, or of a JPEG's segments."""
    found = []
    if data.startswith(images.SIGNATURE):
        pos = 8
        while pos + 8 <= len(data):
            found.append(pos)
            pos += 12 + struct.unpack(">I", data[pos : pos + 4])[0]
    elif data.startswith(b"\xff\xd8"):
        pos = 2
        while pos + 4 <= len(data) and data[pos] == 0xFF and data[pos + 1] != 0xDA:
            found.append(pos + 2)
            pos += 2 + struct.unpack(">H", data[pos + 2 : pos + 4])[0]
    return found


def mutant(data: bytes, kind: str, n: int) -> bytes:
    """The ``n``-th mutant of ``data`` by ``kind`` (one of ``KINDS``), the same on every run."""
    rng = np.random.default_rng([KINDS.index(kind), n, len(data)])
    out = bytearray(data)
    size = len(out)
    if kind == "flip":
        for _ in range(int(rng.integers(1, 9))):
            bit = int(rng.integers(size * 8))
            out[bit // 8] ^= 1 << (bit % 8)
    elif kind == "bytes":
        for _ in range(int(rng.integers(1, 5))):
            out[int(rng.integers(size))] = int(rng.integers(256))
    elif kind == "truncate":
        del out[int(rng.integers(size)) :]
    elif kind == "header":  # the header alone, or less
        del out[int(rng.integers(1, min(size, 80))) :]
    elif kind == "tail":
        out += rng.integers(0, 256, int(rng.integers(1, 300)), dtype=np.uint8).tobytes()
    elif kind == "length":
        fields = _chunk_lengths(data)
        if fields:
            pos = fields[int(rng.integers(len(fields)))]
            width = 4 if data.startswith(images.SIGNATURE) else 2
            value = int(rng.choice([0, 1, 2, int(rng.integers(1 << (8 * width))), (1 << (8 * width)) - 1]))
            out[pos : pos + width] = value.to_bytes(width, "big")
        else:
            kind = "word"
    if kind == "word":  # a header field: a size, an offset, a count
        pos = int(rng.integers(max(1, min(size - 4, 160))))
        value = int(rng.choice([0, 1, 0xFFFF, 0xFFFFFFFF, int(rng.integers(1 << 32)), 0x7FFF]))
        out[pos : pos + 4] = value.to_bytes(4, "little" if rng.random() < 0.5 else "big")
    elif kind == "zero":
        start = int(rng.integers(size))
        end = min(size, start + int(rng.integers(1, 64)))
        out[start:end] = bytes(end - start)
    elif kind == "repeat":
        start = int(rng.integers(size))
        out[start:start] = out[start : start + int(rng.integers(1, 200))]
    elif kind == "cut":
        start = int(rng.integers(size))
        del out[start : start + int(rng.integers(1, 200))]
    return bytes(out)


def corpus(per_seed: int = 40) -> list[tuple[str, bytes]]:
    """Every seed, and ``per_seed`` mutants of each (the kinds in turn), named ``seed/kind/n``."""
    out = []
    for name, data in seeds().items():
        out.append((f"{name}/seed/0", data))
        for n in range(per_seed):
            kind = KINDS[n % len(KINDS)]
            out.append((f"{name}/{kind}/{n}", mutant(data, kind, n)))
    return out


def rebuild(key: str) -> bytes:
    """The file a corpus name stands for."""
    name, kind, n = key.rsplit("/", 2)
    data = seeds()[name]
    return data if kind == "seed" else mutant(data, kind, int(n))


