"""Train, evaluate and export: the trainer's main flow."""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np

from contracts.models import DIGIT_SIGNATURE, WARMUP_FILE, existing_versions
from core.cpu import has_native_bfloat16
from trainer.data import Mnist, load_mnist
from trainer.forms import add_national_forms
from trainer.settings import TrainerSettings


def run(settings: TrainerSettings) -> Path | None:
    """Train and export one model version; returns its folder (None if skipped)."""
    versions = existing_versions(settings.model_base, settings.model_name)
    if settings.if_missing and versions:
        print(f"model {settings.model_name!r} already has version {versions[-1]}; nothing to do")
        return None
    data = load_mnist(settings.data_dir)  # fails fast, naming the file, before any training
    use_onednn_for_training()
    # TensorFlow is imported late so that `--help`, the skip path and data errors stay fast.
    import keras
    import tensorflow as tf

    from trainer.export import export_model
    from trainer.model import build_model
    from trainer.progress import RunProgress

    keras.utils.set_random_seed(settings.seed)
    # Same seed, same model: TensorFlow otherwise may pick kernels whose sums run in any order.
    tf.config.experimental.enable_op_determinism()
    x_train, y_train, x_val, y_val = _split(data, settings)
    mnist_count = len(x_train)
    if settings.augment:
        # Flagged 1s and crossed 7s, as much of the world writes them (training split only).
        x_train, y_train = add_national_forms(x_train, y_train, settings.seed)
    policy = training_policy(settings.precision)
    print(f"training on {mnist_count} images (and {len(x_train) - mnist_count} flagged 1s and crossed 7s drawn on "
          f"them), validating on {len(x_val)}, {settings.epochs} epochs, {policy}", flush=True)
    keras.mixed_precision.set_global_policy(policy)
    try:
        model = build_model(width=settings.width, seed=settings.seed, augment=settings.augment)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    steps = settings.epochs * int(np.ceil(len(x_train) / settings.batch_size))
    schedule = keras.optimizers.schedules.CosineDecay(
        settings.learning_rate / 30, decay_steps=steps - steps // 20, alpha=0.01,
        warmup_target=settings.learning_rate, warmup_steps=steps // 20,
    )
    model.compile(optimizer=keras.optimizers.Adam(schedule),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    started = time.monotonic()
    model.fit(
        x_train.astype(np.float32), y_train, validation_data=(x_val.astype(np.float32), y_val),
        epochs=settings.epochs, batch_size=settings.batch_size,
        verbose=0, callbacks=[RunProgress(settings.epochs, int(np.ceil(len(x_train) / settings.batch_size)))],
    )
    train_seconds = time.monotonic() - started
    if policy != "float32":
        # Serve and evaluate in float32: CPUs without native bfloat16 would emulate it slowly.
        trained, model = model, build_model(width=settings.width, seed=settings.seed, augment=settings.augment)
        model.set_weights(trained.get_weights())
    metrics, files = _evaluate(model, data, x_val, y_val, settings)
    metrics["training"] |= {"seconds": round(train_seconds, 1), "precision": policy}
    metrics["data"] |= {"train_images": mnist_count, "national_forms_added": int(len(x_train) - mnist_count),
                        "validation_images": int(len(x_val))}
    from trainer.model_card import model_card

    folder = export_model(model, settings.model_base, settings.model_name, metrics,
                          temperature=metrics["calibration"]["temperature"], extra_files=files, card=model_card)
    scans = metrics["scans"]
    print(f"test accuracy {metrics['test']['accuracy']:.4f}; scan-like: single {scans['single']['accuracy']:.4f}, "
          f"boxed {scans['boxed']['accuracy']:.4f}, numbers {scans['number']['accuracy']:.4f}; "
          f"exported {folder}", flush=True)
    return folder


def use_onednn_for_training() -> None:
    """Ask TensorFlow for its oneDNN kernels, unless the user chose (takes effect only before
    TensorFlow is imported).

    TensorFlow turns oneDNN on by itself only on CPUs with AVX-512 VNNI or newer; on an AVX2
    CPU (AMD EPYC here) its convolution gradients train our model about 1.7x faster. Only the
    training process asks: for single images oneDNN is 8x slower there, so servers keep the
    default.
    """
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")


def _evaluate(model, data: Mnist, x_val, y_val, settings: TrainerSettings) -> tuple[dict[str, Any], dict[str, bytes]]:
    from trainer.evaluate import calibrate, evaluate_scans, evaluate_test
    from trainer.report import confusion_png, misclassified_png
    from trainer.warmup import warmup_records

    def logits(images: np.ndarray) -> np.ndarray:
        return model.predict(images.astype(np.float32), batch_size=512, verbose=0)

    print("evaluating: calibration, MNIST test set, scan-like set...", flush=True)
    calibration = calibrate(logits, x_val, y_val)
    test, probabilities = evaluate_test(logits, data.x_test, data.y_test, calibration["temperature"])
    metrics: dict[str, Any] = {
        "model_name": settings.model_name,
        "test": test,
        "scans": evaluate_scans(logits, data.x_test, data.y_test, count=settings.scan_eval_count, seed=settings.seed),
        "calibration": calibration,
        "training": {
            "epochs": settings.epochs, "batch_size": settings.batch_size, "width": settings.width,
            "learning_rate": settings.learning_rate, "seed": settings.seed, "augmentation": settings.augment,
            "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores",
        },
        "data": {"source": data.source, "test_images": int(len(data.x_test))},
        "signature": DIGIT_SIGNATURE.describe(),
    }
    predicted = probabilities.argmax(axis=1)
    files = {
        "confusion_matrix.png": confusion_png(np.array(test["confusion_matrix"])),
        "misclassified.png": misclassified_png(data.x_test, data.y_test, predicted, probabilities.max(axis=1)),
        WARMUP_FILE: warmup_records(data.x_test[:256], settings.model_name),
    }
    return metrics, files


def training_policy(precision: str, cpuinfo: str = "/proc/cpuinfo") -> str:
    """The Keras dtype policy for ``--precision``; ``auto`` uses bfloat16 only where the CPU has it natively."""
    if precision != "auto":
        return precision
    return "mixed_bfloat16" if has_native_bfloat16(cpuinfo) else "float32"


def _split(data: Mnist, settings: TrainerSettings) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(settings.seed)
    order = rng.permutation(len(data.x_train))
    if settings.limit:
        order = order[: settings.limit]
    n_val = max(1, int(len(order) * settings.validation_fraction))
    val, train = order[:n_val], order[n_val:]
    return data.x_train[train], data.y_train[train], data.x_train[val], data.y_train[val]
