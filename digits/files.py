"""Find image files in a folder by their content, not their extension."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from contracts.uploads import looks_like_image


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
