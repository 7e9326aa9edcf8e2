"""Generate, train, evaluate and export the string model: ``run(settings)``."""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path

from contracts.models import MAX_STRING_DIGITS, existing_versions
from trainer.data import FILES, Mnist, load_mnist
from trainer.errors import DatasetError
from trainer.settings import TrainerSettings
from trainer.train import use_onednn_for_training


def run(settings: TrainerSettings) -> Path | None:
    """Train and export one version of the string model; returns its folder (None if skipped)."""
    name = settings.string_model_name
    versions = existing_versions(settings.model_base, name)
    if settings.if_missing and versions:
        print(f"model {name!r} already has version {versions[-1]}; nothing to do", flush=True)
        return None
    data = load_mnist(settings.data_dir)  # fails fast, naming the file, before any work
    if settings.real_dev and not (Path(settings.real_dev) / "labels.csv").is_file():
        raise DatasetError(f"{Path(settings.real_dev) / 'labels.csv'}: file not found (--real-dev)")
    use_onednn_for_training()
    import tensorflow as tf

    from scans.synth import HOLDOUT, VERSION
    from trainer.progress import StepProgress
    from trainer.strings.data import Generator
    from trainer.strings.finish import EVAL_SEED, VAL_SEED_OFFSET, Destination, evaluate_and_export, held_out_sets
    from trainer.strings.fit import train
    from trainer.strings.model import Config

    # Same seed, same model, whether or not the digit model was trained first in this process.
    tf.config.experimental.enable_op_determinism()
    cfg = Config(channels=settings.string_channels, units=settings.string_units, steps=settings.string_steps,
                 batch=settings.string_batch, seed=settings.string_seed)
    val_seed = cfg.seed + VAL_SEED_OFFSET
    started = time.monotonic()
    with Generator(data.x_train, data.y_train, settings.string_workers) as generator:
        with StepProgress(settings.string_n_train, "generating strings", every=10_000) as progress:
            train_set = generator.make(settings.string_n_train, cfg.seed, "train", progress=progress.advance)
        val_set, test_set = held_out_sets(generator, val_seed, settings.string_n_val, settings.string_n_eval)
    generation_seconds = time.monotonic() - started
    print(f"{len(train_set):,} training strings, {len(val_set):,} validation and {len(test_set):,} test strings "
          f"in {generation_seconds:.0f}s; training {cfg.steps:,} steps of {cfg.batch}", flush=True)
    started = time.monotonic()
    with StepProgress(cfg.steps, "training", every=200) as progress:
        model, history = train(cfg, train_set.x, train_set.labels, val=(val_set.x, val_set.labels),
                               progress=progress)
    train_seconds = time.monotonic() - started

    training = {**cfg.describe(), "learning_rate": cfg.lr, "bucketing": True,
                "seconds": round(train_seconds, 1), "history": history,
                "images_per_second": round(cfg.steps * cfg.batch / max(train_seconds, 1e-9)),
                "mean_width": history[-1]["mean_width"] if history else None,
                "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores"}
    data_info = {"source": data.source, "generator_version": VERSION, "holdout_digits": HOLDOUT,
                 "train_strings": len(train_set), "train_seed": cfg.seed, "validation_strings": len(val_set),
                 "validation_seed": val_seed, "test_strings": len(test_set), "test_seed": EVAL_SEED,
                 "max_digits": MAX_STRING_DIGITS, "generation_seconds": round(generation_seconds, 1),
                 "workers": settings.string_workers, "mnist_sha256": _checksums(data)}
    where = Destination(settings.model_base, name, settings.real_dev)
    return evaluate_and_export(model, data, val_set, test_set, where, training=training, data_info=data_info,
                               sheet_seed=cfg.seed)


def _checksums(data: Mnist) -> dict[str, str]:
    """SHA-256 of the MNIST training files used (of the arrays, when Keras downloaded them)."""
    from trainer.shipped import file_checksums
    from trainer.strings.data import array_checksum

    if Path(data.source).is_dir():
        return file_checksums(data.source, [FILES["train_images"], FILES["train_labels"]])
    return {"train_arrays": array_checksum(data.x_train, data.y_train)}
