"""Export a trained model as a versioned SavedModel, atomically.

Layout: ``<model_base>/<name>/<version>/`` with ``saved_model.pb``, ``variables/`` and
``metrics.json``. The version folder is written under a dot-prefixed temporary name (which
TF Serving ignores, as it only loads numeric folders) and renamed into place in one step
(:func:`export_version`, for any model; the string model's SavedModel is written by
:mod:`trainer.strings.export`). :func:`check_signature` compares a written SavedModel's
signature with its contract.

The digit model's serving signature ``serving_default``:

* input ``images``: uint8, shape [-1, 28, 28], MNIST convention (white ink on black, 0..255).
* output ``probabilities``: float32, shape [-1, 10], calibrated class probabilities.
* output ``classes``: int64, shape [-1], the most probable digit.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf

from contracts.models import (
    DIGIT_CLASSES,
    DIGIT_INPUT,
    DIGIT_PROBABILITIES,
    DIGIT_SIZE,
    METRICS_FILE,
    SIGNATURE_NAME,
    Signature,
    TensorInfo,
    existing_versions,
)
from trainer.errors import ExportError
from trainer.publish import fsync_dir, fsync_tree, temporary_folder


def next_version(model_dir: Path) -> int:
    """One more than the highest numeric version folder, or 1."""
    return max(existing_versions(model_dir.parent, model_dir.name), default=0) + 1


def export_model(
    model: keras.Model,
    model_base: str | Path,
    name: str,
    metrics: dict[str, Any],
    temperature: float = 1.0,
    extra_files: dict[str, bytes] | None = None,
    card: Callable[[dict[str, Any]], str] | None = None,
) -> Path:
    """Write ``model`` as the next version of ``name`` and return the version folder.

    ``card`` renders MODEL_CARD.md from the metrics once the version number is known.
    """
    return export_version(lambda path: _write_saved_model(model, path, temperature), model_base, name, metrics,
                          extra_files, card)


def export_version(
    write: Callable[[Path], None],
    model_base: str | Path,
    name: str,
    metrics: dict[str, Any],
    extra_files: dict[str, bytes] | None = None,
    card: Callable[[dict[str, Any]], str] | None = None,
) -> Path:
    """The next version of ``name``: ``write(folder)`` puts the SavedModel in a temporary
    folder, ``extra_files`` (relative path -> bytes) go beside it, then metrics.json and the
    card once the version number is known, and the folder is renamed into place. On any
    failure nothing is left behind (ExportError)."""
    model_dir = Path(model_base) / name
    tmp = temporary_folder(model_dir)
    try:
        write(tmp)
        for rel, content in (extra_files or {}).items():
            target = tmp / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        fsync_tree(tmp)
        return _rename_into_place(tmp, model_dir, metrics, card)
    except Exception as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, ExportError):
            raise
        raise ExportError(f"export to {model_dir} failed: {exc}") from exc


def _write_saved_model(model: keras.Model, path: Path, temperature: float) -> None:
    temp = tf.constant(float(temperature), dtype=tf.float32)

    def serve(images: tf.Tensor) -> dict[str, tf.Tensor]:
        logits = model(tf.cast(images, tf.float32), training=False)
        probabilities = tf.nn.softmax(logits / temp, axis=-1)
        return {
            DIGIT_PROBABILITIES: probabilities,
            DIGIT_CLASSES: tf.argmax(probabilities, axis=-1, output_type=tf.int64),
        }

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(
        name=SIGNATURE_NAME,
        fn=serve,
        input_signature=[tf.TensorSpec([None, DIGIT_SIZE, DIGIT_SIZE], tf.uint8, name=DIGIT_INPUT)],
    )
    archive.write_out(str(path), verbose=False)


def check_signature(folder: Path, signature: Signature) -> None:
    """Raise ExportError unless the SavedModel in ``folder`` has ``signature`` exactly: its
    name, and each input's and output's name, dtype and shape (-1: any size)."""
    loaded = tf.saved_model.load(str(folder)).signatures.get(signature.name)
    if loaded is None:
        raise ExportError(f"{folder}: no signature {signature.name!r}")

    def info(spec: tf.TensorSpec) -> TensorInfo:
        return TensorInfo(spec.dtype.name, tuple(-1 if d is None else int(d) for d in spec.shape.as_list()))

    inputs = {key: info(spec) for key, spec in loaded.structured_input_signature[1].items()}
    outputs = {key: info(spec) for key, spec in loaded.structured_outputs.items()}
    if inputs != dict(signature.inputs) or outputs != dict(signature.outputs):
        raise ExportError(f"{folder}: signature {signature.name!r} is {inputs} -> {outputs}, "
                          f"not {dict(signature.inputs)} -> {dict(signature.outputs)}")


def _rename_into_place(tmp: Path, model_dir: Path, metrics: dict[str, Any],
                       card: Callable[[dict[str, Any]], str] | None) -> Path:
    # Another trainer may claim the same number between our scan and our rename; on a
    # clash, take the next number rather than overwrite.
    for _ in range(100):
        version = next_version(model_dir)
        metrics_with_version = {**metrics, "version": version}
        (tmp / METRICS_FILE).write_text(json.dumps(metrics_with_version, indent=2) + "\n")
        if card is not None:
            (tmp / "MODEL_CARD.md").write_text(card(metrics_with_version))
        target = model_dir / str(version)
        try:
            os.rename(tmp, target)
        except OSError:
            if target.exists():
                continue
            raise
        fsync_dir(model_dir)
        return target
    raise ExportError(f"could not find a free version number in {model_dir}")
