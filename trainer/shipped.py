"""The default models that ship with digits, so that a new install answers at once, offline.

They live in the package (``trainer/shipped/<name>/``, package data): ``pip install`` and every
Docker image carry them, with no download and no MNIST, and the runtime model base
(``models/`` by default, a volume under compose) stays the user's own. Each was built by our
own trainer; ``MANIFEST.json`` records, per model, the command, seed, training data checksums,
TensorFlow version and the SHA-256 of every file. A model is checked against it before it is
installed: a file that changed or went missing refuses the install, naming the file.

:func:`install_missing` puts a shipped model in place as version 1 of each model that has no
version yet, atomically (as an export is). Retraining (``digits train``) then exports version 2
and up beside it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contracts.models import existing_versions
from trainer.errors import TrainerError
from trainer.publish import install_copy

SHIPPED_DIR = Path(__file__).resolve().parent / "shipped"
MANIFEST = "MANIFEST.json"
SHIPPED_VERSION = 1


class ShippedModelError(TrainerError):
    """A shipped model is missing or does not match its recorded checksums."""


@dataclass(frozen=True)
class ShippedModel:
    name: str
    folder: Path
    files: dict[str, str]  # path inside the version folder -> SHA-256
    provenance: dict[str, Any]


def shipped_models(root: Path = SHIPPED_DIR) -> list[ShippedModel]:
    """Every model recorded in ``root/MANIFEST.json`` (none when there is no manifest)."""
    path = root / MANIFEST
    if not path.is_file():
        return []
    try:
        manifest = json.loads(path.read_text())
    except ValueError as exc:
        raise ShippedModelError(f"{path}: {exc}") from exc
    return [ShippedModel(name, root / name, entry["files"], entry["provenance"])
            for name, entry in manifest["models"].items()]


def verify(model: ShippedModel) -> None:
    """Raise ShippedModelError unless every recorded file is there with its checksum, and
    nothing else is."""
    for rel, expected in model.files.items():
        path = model.folder / rel
        if not path.is_file():
            raise ShippedModelError(f"shipped model {model.name}: {rel} is missing")
        if sha256(path) != expected:
            raise ShippedModelError(f"shipped model {model.name}: {rel} does not match its checksum in {MANIFEST}")
    extra = sorted(set(_files(model.folder)) - set(model.files))
    if extra:
        raise ShippedModelError(f"shipped model {model.name}: {extra[0]} is not in {MANIFEST}")


def install_missing(model_base: str | Path, names: Iterable[str] | None = None, root: Path = SHIPPED_DIR,
                    say: Callable[[str], None] = print) -> list[str]:
    """Install each shipped model (of ``names``, or all) that has no version in ``model_base``
    as version 1; returns the names installed. Raises ShippedModelError before installing
    anything that fails its checksums."""
    wanted = None if names is None else set(names)
    installed = []
    for model in shipped_models(root):
        if wanted is not None and model.name not in wanted:
            continue
        if existing_versions(model_base, model.name):
            continue
        verify(model)
        if install_copy(model.folder, Path(model_base) / model.name, SHIPPED_VERSION) is not None:
            installed.append(model.name)
            say(f"installed the shipped {model.name} model as version {SHIPPED_VERSION} in {model_base}")
    return installed


def record(model_base: str | Path, name: str, version: int, provenance: dict[str, Any],
           root: Path = SHIPPED_DIR) -> ShippedModel:
    """Copy ``<model_base>/<name>/<version>`` into the shipped models and record it in the
    manifest with ``provenance`` and its checksums (how the maintainers ship a new default)."""
    import shutil

    source = Path(model_base) / name / str(version)
    target = root / name
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target)
    files = {rel: sha256(target / rel) for rel in sorted(_files(target))}
    path = root / MANIFEST
    manifest = json.loads(path.read_text()) if path.is_file() else {"models": {}}
    manifest["models"][name] = {"provenance": provenance, "files": files}
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return ShippedModel(name, target, files, provenance)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_checksums(folder: str | Path, stems: Iterable[str]) -> dict[str, str]:
    """SHA-256 of each file of ``stems`` (plain or .gz) found in ``folder``: the data a model
    was trained on, as its metrics and the shipped models' manifest record it."""
    return {path.name: sha256(path) for stem in stems
            for path in (Path(folder) / stem, Path(folder) / f"{stem}.gz") if path.is_file()}


def _files(folder: Path) -> list[str]:
    return [p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()]
