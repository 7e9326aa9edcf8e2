"""Putting a version folder in place atomically, as TF Serving needs (no TensorFlow here).

A version is written under a dot-prefixed temporary name, which TF Serving never loads (it
takes only numeric folders), flushed to disk, then renamed into place in one step, so that a
server never loads half a model and a crash never leaves one.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path


def temporary_folder(model_dir: Path) -> Path:
    """A fresh dot-prefixed folder path inside ``model_dir`` (which is created if needed)."""
    model_dir.mkdir(parents=True, exist_ok=True)
    return model_dir / f".tmp-{uuid.uuid4().hex}"


def fsync_tree(root: Path) -> None:
    """Flush every file and folder under ``root`` to disk."""
    for dirpath, _, filenames in os.walk(root):
        for filename in filenames:
            with open(os.path.join(dirpath, filename), "rb") as handle:
                os.fsync(handle.fileno())
        fsync_dir(Path(dirpath))


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def install_copy(source: Path, model_dir: Path, version: int) -> Path | None:
    """Copy the version folder ``source`` to ``model_dir/<version>`` atomically.

    Returns the new folder, or None when that version already exists (another process put
    it there first); a failed copy leaves nothing behind.
    """
    target = model_dir / str(version)
    if target.exists():
        return None
    tmp = temporary_folder(model_dir)
    try:
        shutil.copytree(source, tmp)
        fsync_tree(tmp)
        try:
            os.rename(tmp, target)
        except OSError:
            if target.exists():
                return None
            raise
        fsync_dir(model_dir)
        return target
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
