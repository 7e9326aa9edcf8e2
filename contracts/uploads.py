"""What counts as an image, and which archive paths are skipped or refused.

Shared by the gateway (which unpacks uploads) and ``digits submit`` (which must send every
file so that it gets its row), so the two agree on every path.
"""

from __future__ import annotations

import posixpath

# Leading bytes of the formats the worker decodes.
_SIGNATURES = (
    b"\x89PNG\r\n\x1a\n",
    b"\xff\xd8\xff",  # JPEG
    b"GIF87a",
    b"GIF89a",
    b"BM",  # BMP
    b"II*\x00",  # TIFF, little-endian
    b"MM\x00*",  # TIFF, big-endian
)
FORMATS = "PNG, JPEG, GIF, BMP, TIFF or WebP"

# Folder clutter that archivers and file managers add to a zip; never the user's scans.
_CLUTTER_FOLDER = "__MACOSX/"
_CLUTTER_FILES = (".DS_Store", "Thumbs.db", "desktop.ini")


def looks_like_image(head: bytes) -> bool:
    """True when ``head`` (the first 16 bytes of a file) starts like a supported image."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return True
    return any(head.startswith(sig) for sig in _SIGNATURES)


def is_clutter(path: str) -> bool:
    """True for a zip entry (forward slashes) that the gateway skips as archiver clutter."""
    return path.startswith(_CLUTTER_FOLDER) or posixpath.basename(path) in _CLUTTER_FILES


def escapes_folder(path: str) -> bool:
    """True for a zip entry path that could land outside the archive's folder (zip-slip):
    absolute, with ``..``, or starting with a drive letter."""
    path = path.replace("\\", "/")
    parts = path.split("/")
    return path.startswith("/") or ".." in parts or (len(parts[0]) == 2 and parts[0][1] == ":")
