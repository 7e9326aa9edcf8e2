"""Upload payloads for the gateway tests: a real PNG, zip archives good and hostile."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

import numpy as np
from PIL import Image


def png_bytes(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


PNG = png_bytes(np.full((20, 20), 200, np.uint8))


def zip_of(entries: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def zip_slip() -> bytes:
    """An archive whose entry climbs out of the folder it would be unpacked into."""
    return zip_of({"ok.png": PNG, "../../etc/cron.d/evil.png": PNG})


def zip_bomb(size: int = 50_000_000) -> bytes:
    """A few tens of KB that claim (and would inflate to) ``size`` bytes of zeros."""
    return zip_of({"zeros.png": b"\0" * size})


def zip_lying_about_size() -> bytes:
    """A zip whose headers claim a 10-byte entry that really inflates to 5 MB: only reading
    with a limit catches it."""
    data = bytearray(zip_of({"small.png": b"\x89PNG\r\n\x1a\n" + b"\0" * 5_000_000}))
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = data.find(signature)
        data[at + offset : at + offset + 4] = struct.pack("<I", 10)
    return bytes(data)


def broken_zip() -> bytes:
    data = zip_of({"a.png": PNG, "b.png": PNG})
    return data[: len(data) // 2]


def corrupt_entry_zip() -> bytes:
    """The directory is intact but an entry's compressed bytes are damaged."""
    data = bytearray(zip_of({"a.png": PNG * 20}))
    data[60:80] = zlib.compress(b"garbage")[:20]
    return bytes(data)


def zip_with_unknown_method() -> bytes:
    """Two stored entries; the first claims compression method 99, which nothing unpacks."""
    data = bytearray(zip_of({"odd.png": PNG, "fine.png": PNG}, compression=zipfile.ZIP_STORED))
    for signature, offset in ((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)):
        at = data.find(signature)
        data[at + offset : at + offset + 2] = (99).to_bytes(2, "little")
    return bytes(data)


def overlapping_zip(entries: int = 300, size: int = 999_000, names: bool = False) -> bytes:
    """A few KB whose ``entries`` directory entries all point at the same compressed ``size``
    bytes (one local header, many central ones): each entry is under 1 MB, the whole expands
    ``entries`` times. ``names`` gives each entry a name of its own (same length) instead of one
    shared name."""
    data = zip_of({"a.png": b"\x89PNG\r\n\x1a\n" + b"\0" * (size - 8)})
    directory = data.find(b"PK\x01\x02")
    end = data.find(b"PK\x05\x06")
    record = data[directory:end]
    records = []
    for i in range(entries):
        own = bytearray(record)
        if names:
            own[46:51] = f"{i % 100000:05d}".encode()  # the 5-character name "a.png" becomes "00042"
        records.append(bytes(own))
    central = b"".join(records)
    tail = bytearray(data[end:])
    tail[8:12] = struct.pack("<HH", entries, entries)
    tail[12:20] = struct.pack("<II", len(central), directory)
    return data[:directory] + central + bytes(tail)


def zip_of_many_small_bombs(entries: int = 20, size: int = 900_000) -> bytes:
    """Entries of their own (no overlap), each under 1 MB of zeros: together ~1000 times the zip."""
    return zip_of({f"{i}.png": b"\x89PNG\r\n\x1a\n" + b"\0" * size for i in range(entries)})


def multipart(files: list[tuple[bytes, bytes]], field: bytes = b"files", boundary: bytes = b"digits-test-boundary"
              ) -> tuple[bytes, str]:
    """A raw multipart/form-data body, file names exactly as given (no escaping at all, as a
    careless client would send them); returns the body and its content type."""
    parts = [b"--" + boundary + b"\r\nContent-Disposition: form-data; name=\"" + field + b"\"; filename=\"" + name
             + b"\"\r\nContent-Type: application/octet-stream\r\n\r\n" + data + b"\r\n" for name, data in files]
    return b"".join(parts) + b"--" + boundary + b"--\r\n", f"multipart/form-data; boundary={boundary.decode()}"
