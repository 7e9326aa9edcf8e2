"""Train, evaluate and export: the trainer's main flow."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from trainer.data import Mnist, load_mnist
from trainer.metrics import classification_metrics
from trainer.settings import TrainerSettings


def existing_versions(model_base: str | Path, name: str) -> list[int]:
    """Numeric version folders already exported for ``name``."""
    model_dir = Path(model_base) / name
    if not model_dir.is_dir():
        return []
    return sorted(int(p.name) for p in model_dir.iterdir() if p.is_dir() and p.name.isdigit())


def run(settings: TrainerSettings) -> Path | None:
    """Train and export one model version; returns its folder (None if skipped)."""
    versions = existing_versions(settings.model_base, settings.model_name)
    if settings.if_missing and versions:
        print(f"model {settings.model_name!r} already has version {versions[-1]}; nothing to do")
        return None
    # TensorFlow is imported late so that `--help` and the skip path stay fast.
    import keras

    from trainer.export import export_model
    from trainer.model import build_model

    keras.utils.set_random_seed(settings.seed)
    data = load_mnist(settings.data_dir)
    x_train, y_train, x_val, y_val = _split(data, settings)
    print(f"training on {len(x_train)} images, validating on {len(x_val)}, "
          f"{settings.epochs} epochs", flush=True)
    model = build_model(width=settings.width, seed=settings.seed)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    started = time.monotonic()
    model.fit(
        x_train.astype(np.float32), y_train,
        validation_data=(x_val.astype(np.float32), y_val),
        epochs=settings.epochs,
        batch_size=settings.batch_size,
        verbose=1 if sys.stdout.isatty() else 2,
    )
    train_seconds = time.monotonic() - started
    logits = model.predict(data.x_test.astype(np.float32), batch_size=512, verbose=0)
    test = classification_metrics(data.y_test, _softmax(logits))
    metrics = _metrics_document(settings, data, len(x_train), len(x_val), train_seconds, test)
    folder = export_model(model, settings.model_base, settings.model_name, metrics)
    print(f"test accuracy {test['accuracy']:.4f}; exported {folder}", flush=True)
    return folder


def _split(data: Mnist, settings: TrainerSettings) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(settings.seed)
    order = rng.permutation(len(data.x_train))
    if settings.limit:
        order = order[: settings.limit]
    n_val = max(1, int(len(order) * settings.validation_fraction))
    val, train = order[:n_val], order[n_val:]
    return data.x_train[train], data.y_train[train], data.x_train[val], data.y_train[val]


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def _metrics_document(
    settings: TrainerSettings, data: Mnist, n_train: int, n_val: int,
    train_seconds: float, test: dict[str, Any],
) -> dict[str, Any]:
    return {
        "model_name": settings.model_name,
        "test": test,
        "training": {
            "seconds": round(train_seconds, 1),
            "epochs": settings.epochs,
            "batch_size": settings.batch_size,
            "width": settings.width,
            "seed": settings.seed,
        },
        "data": {
            "source": data.source,
            "train_images": n_train,
            "validation_images": n_val,
            "test_images": int(len(data.x_test)),
        },
        "signature": {
            "name": "serving_default",
            "inputs": {"images": {"dtype": "uint8", "shape": [-1, 28, 28]}},
            "outputs": {
                "probabilities": {"dtype": "float32", "shape": [-1, 10]},
                "classes": {"dtype": "int64", "shape": [-1]},
            },
        },
    }
