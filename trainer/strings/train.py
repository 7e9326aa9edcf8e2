"""Generate, train, evaluate and export the string model: ``run(settings)``."""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np

from contracts.models import MAX_STRING_DIGITS, STRING_SIGNATURE, WARMUP_FILE, existing_versions
from trainer.data import FILES, Mnist, load_mnist
from trainer.errors import DatasetError
from trainer.settings import TrainerSettings
from trainer.train import use_onednn_for_training

# The synthetic test strings: a fixed seed, whatever the training seed, so that versions compare.
EVAL_SEED = 999
# The validation strings' seed is the training seed plus this.
VAL_SEED_OFFSET = 10_000
CONTACT_SHEET = "contact_sheet.png"


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

    from scans.synth import HOLDOUT, VERSION, Bank, contact_sheet
    from trainer.export import export_version
    from trainer.progress import StepProgress
    from trainer.shipped import sha256
    from trainer.string_confidence import fit, raw_score
    from trainer.strings import evaluate as ev
    from trainer.strings.card import model_card
    from trainer.strings.data import Generator
    from trainer.strings.export import saved_model_writer
    from trainer.strings.fit import train
    from trainer.strings.model import Config, predict
    from trainer.warmup import warmup_records

    # Same seed, same model, whether or not the digit model was trained first in this process.
    tf.config.experimental.enable_op_determinism()
    cfg = Config(channels=settings.string_channels, units=settings.string_units, steps=settings.string_steps,
                 batch=settings.string_batch, seed=settings.string_seed)
    val_seed = cfg.seed + VAL_SEED_OFFSET
    started = time.monotonic()
    with Generator(data.x_train, data.y_train, settings.string_workers) as generator:
        with StepProgress(settings.string_n_train, "generating strings", every=10_000) as progress:
            train_set = generator.make(settings.string_n_train, cfg.seed, "train", progress=progress.advance)
        val_set = generator.make(settings.string_n_val, val_seed, "val")
        test_set = generator.make(settings.string_n_eval, EVAL_SEED, "val", with_extents=True)
    generation_seconds = time.monotonic() - started
    print(f"{len(train_set):,} training strings, {len(val_set):,} validation and {len(test_set):,} test strings "
          f"in {generation_seconds:.0f}s; training {cfg.steps:,} steps of {cfg.batch}", flush=True)
    started = time.monotonic()
    with StepProgress(cfg.steps, "training", every=200) as progress:
        model, history = train(cfg, train_set.x, train_set.labels, val=(val_set.x, val_set.labels),
                               progress=progress)
    train_seconds = time.monotonic() - started

    print("evaluating: calibration, synthetic test strings" + (", real strings" if settings.real_dev else ""),
          flush=True)
    val_frames = predict(model, val_set.x)
    val_correct = np.array([r.text == t for r, t in zip(ev.read(val_frames, val_set.widths), val_set.labels)])
    a, b = fit(raw_score(val_frames), val_correct)
    test_frames = predict(model, test_set.x)
    synthetic = ev.figures(test_frames, test_set.widths, test_set.labels, (a, b))
    synthetic |= {"seed": EVAL_SEED, "split": f"the {HOLDOUT:,} held-out MNIST training digits",
                  "extents": ev.extent_agreement(ev.read(test_frames, test_set.widths), test_set.labels,
                                                 test_set.x0, test_set.scale, test_set.extents or [])}
    metrics: dict[str, Any] = {
        "model_name": settings.string_model_name,
        # The summary the gateway's /v1/models shows, as for the digit model's MNIST test set.
        "test": {"set": "synthetic test strings", "accuracy": synthetic["exact"], "count": synthetic["n"],
                 "errors": synthetic["n"] - round(synthetic["exact"] * synthetic["n"]),
                 "ece": synthetic["confidence"]["ece"]},
        "synthetic": synthetic,
        # The model's `confidence` output: sigmoid(a * log(score) + b), in the graph.
        "calibration": {"score": "product of each read digit's peak frame probability", "a": a, "b": b,
                        "fitted_on": f"{len(val_set):,} synthetic validation strings (seed {val_seed})"},
        "model": {"params": int(model.count_params()), "frames": int(model.output_shape[1]),
                  "classes": int(model.output_shape[2])},
        "training": {**cfg.describe(), "learning_rate": cfg.lr, "bucketing": True,
                     "seconds": round(train_seconds, 1), "history": history,
                     "images_per_second": round(cfg.steps * cfg.batch / max(train_seconds, 1e-9)),
                     "mean_width": history[-1]["mean_width"] if history else None,
                     "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores"},
        "data": {"source": data.source, "generator_version": VERSION, "holdout_digits": HOLDOUT,
                 "train_strings": len(train_set), "train_seed": cfg.seed, "validation_strings": len(val_set),
                 "validation_seed": val_seed, "test_strings": len(test_set), "test_seed": EVAL_SEED,
                 "max_digits": MAX_STRING_DIGITS, "generation_seconds": round(generation_seconds, 1),
                 "workers": settings.string_workers, "mnist_sha256": _checksums(data)},
        "signature": STRING_SIGNATURE.describe(),
    }
    if settings.real_dev:
        images, truths, sources = ev.load_real(settings.real_dev)
        frames = predict(model, np.stack([image.image for image in images]))
        # The folder by its name and its labels' checksum: where it lay on the training machine
        # says nothing to anyone else.
        metrics["real"] = {"folder": Path(settings.real_dev).resolve().name,
                           "labels_sha256": sha256(Path(settings.real_dev) / "labels.csv"),
                           "note": "validation only: never trained on",
                           **ev.real_figures(frames, images, truths, sources, (a, b))}
    files = {
        WARMUP_FILE: warmup_records(val_set.x[:256], name),
        CONTACT_SHEET: contact_sheet(Bank.from_mnist(data.x_train, data.y_train, "train"), 24, cfg.seed),
    }
    folder = export_version(saved_model_writer(model, (a, b), val_set.x[:64]), settings.model_base, name, metrics,
                            extra_files=files, card=model_card)
    print(_summary(metrics) + f"; exported {folder}", flush=True)
    return folder


def _checksums(data: Mnist) -> dict[str, str]:
    """SHA-256 of the MNIST training files used (of the arrays, when Keras downloaded them)."""
    from trainer.shipped import file_checksums
    from trainer.strings.data import array_checksum

    if Path(data.source).is_dir():
        return file_checksums(data.source, [FILES["train_images"], FILES["train_labels"]])
    return {"train_arrays": array_checksum(data.x_train, data.y_train)}


def _summary(metrics: dict[str, Any]) -> str:
    parts = [f"synthetic exact {metrics['synthetic']['exact']:.4f}"]
    for source, entry in metrics.get("real", {}).items():
        if isinstance(entry, dict) and source != "all":
            parts.append(f"{source} exact {entry['exact']:.4f}")
    return "; ".join(parts)
