"""Find image files in a folder by their content, not their extension."""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterator
from pathlib import Path

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


# Folder clutter that archivers and file managers add to a zip; never the user's scans.
_CLUTTER_FOLDER = "__MACOSX/"
_CLUTTER_FILES = (".DS_Store", "Thumbs.db", "desktop.ini")


def is_clutter(path: str) -> bool:
    """True for a zip entry (forward slashes) that the gateway skips as archiver clutter."""
    return path.startswith(_CLUTTER_FOLDER) or posixpath.basename(path) in _CLUTTER_FILES


def escapes_folder(path: str) -> bool:
    """True for a zip entry path that could land outside the archive's folder (zip-slip):
    absolute, with ``..``, or starting with a drive letter."""
    path = path.replace("\\", "/")
    parts = path.split("/")
    return path.startswith("/") or ".." in parts or (len(parts[0]) == 2 and parts[0][1] == ":")


def looks_like_image(head: bytes) -> bool:
    """True when ``head`` (the first 16 bytes of a file) starts like a supported image."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return True
    return any(head.startswith(sig) for sig in _SIGNATURES)


def list_files(folder: Path) -> Iterator[tuple[str, Path]]:
    """(path relative to ``folder`` with forward slashes, absolute path) of every file, sorted,
    recursively. Cheap: nothing is opened."""
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        base = Path(root)
        for name in sorted(files):
            path = base / name
            yield path.relative_to(folder).as_posix(), path


def read_images(files: list[tuple[str, Path]]) -> list[tuple[str, bytes]]:
    """(relative path, bytes) of those ``files`` that are images; unreadable files are skipped."""
    images = []
    for rel, path in files:
        try:
            with open(path, "rb") as handle:
                head = handle.read(16)
                # Only images are read whole: a folder may also hold large files of other kinds.
                if looks_like_image(head):
                    images.append((rel, head + handle.read()))
        except OSError:
            continue
    return images
