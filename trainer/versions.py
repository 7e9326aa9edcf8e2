"""Version numbers of an exported model, read from its folder (no TensorFlow needed)."""

from __future__ import annotations

from pathlib import Path


def existing_versions(model_base: str | Path, name: str) -> list[int]:
    """Numeric version folders already exported for ``name``, oldest first."""
    model_dir = Path(model_base) / name
    if not model_dir.is_dir():
        return []
    return sorted(int(p.name) for p in model_dir.iterdir() if p.is_dir() and p.name.isdigit())
