"""The end of every string model version, trained or re-exported: the held-out strings, the
calibration fitted on them, the figures, the files beside the model and the atomic export."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import keras
import numpy as np

from contracts.models import STRING_SIGNATURE, WARMUP_FILE
from trainer.data import Mnist

if TYPE_CHECKING:
    from trainer.strings.data import Generator, StringSet

# The synthetic test strings: a fixed seed, whatever the training seed, so that versions compare.
EVAL_SEED = 999
# The validation strings' seed is the training seed plus this.
VAL_SEED_OFFSET = 10_000
CONTACT_SHEET = "contact_sheet.png"


@dataclass(frozen=True)
class Destination:
    """Where a version goes and what it is measured on besides the synthetic strings."""

    model_base: str | Path
    name: str
    real_dev: str | None = None


def held_out_sets(generator: Generator, val_seed: int, n_val: int, n_eval: int) -> tuple[StringSet, StringSet]:
    """(validation, test) strings from the held-out MNIST training digits: the calibration is
    fitted on the first, the figures come from the second."""
    return generator.make(n_val, val_seed, "val"), generator.make(n_eval, EVAL_SEED, "val", with_extents=True)


def evaluate_and_export(model: keras.Model, data: Mnist, val_set: StringSet, test_set: StringSet,
                        where: Destination, *,
                        training: dict[str, Any], data_info: dict[str, Any], sheet_seed: int) -> Path:
    """Fit the calibration on ``val_set``, measure ``model`` as the served graph reads, and
    export the next version of ``where.name``; ``training`` and ``data_info`` go into its
    metrics.json as they are."""
    from scans.synth import HOLDOUT, Bank, contact_sheet
    from trainer.export import export_version
    from trainer.shipped import sha256
    from trainer.string_confidence import fit, raw_score
    from trainer.strings import evaluate as ev
    from trainer.strings.card import model_card
    from trainer.strings.export import saved_model_writer
    from trainer.strings.model import predict
    from trainer.warmup import warmup_records

    print("evaluating: calibration, synthetic test strings" + (", real strings" if where.real_dev else ""),
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
        "model_name": where.name,
        # The summary the gateway's /v1/models shows, as for the digit model's MNIST test set.
        "test": {"set": "synthetic test strings", "accuracy": synthetic["exact"], "count": synthetic["n"],
                 "errors": synthetic["n"] - round(synthetic["exact"] * synthetic["n"]),
                 "ece": synthetic["confidence"]["ece"]},
        "synthetic": synthetic,
        # The model's `confidence` output: sigmoid(a * log(score) + b), in the graph.
        "calibration": {"score": "product of each read digit's peak frame probability", "a": a, "b": b,
                        "fitted_on": f"{len(val_set):,} synthetic validation strings "
                                     f"(seed {data_info['validation_seed']})"},
        "model": {"params": int(model.count_params()), "frames": int(model.output_shape[1]),
                  "classes": int(model.output_shape[2])},
        "training": training,
        "data": data_info,
        "signature": STRING_SIGNATURE.describe(),
    }
    if where.real_dev:
        images, truths, sources = ev.load_real(where.real_dev)
        frames = predict(model, np.stack([image.image for image in images]))
        # The folder by its name and its labels' checksum: where it lay on the training machine
        # says nothing to anyone else.
        metrics["real"] = {"folder": Path(where.real_dev).resolve().name,
                           "labels_sha256": sha256(Path(where.real_dev) / "labels.csv"),
                           "note": "validation only: never trained on",
                           **ev.real_figures(frames, images, truths, sources, (a, b))}
    files = {
        WARMUP_FILE: warmup_records(val_set.x[:256], where.name),
        CONTACT_SHEET: contact_sheet(Bank.from_mnist(data.x_train, data.y_train, "train"), 24, sheet_seed),
    }
    folder = export_version(saved_model_writer(model, (a, b), val_set.x[:64]), where.model_base, where.name,
                            metrics, extra_files=files, card=model_card)
    print(_summary(metrics) + f"; exported {folder}", flush=True)
    return folder


def _summary(metrics: dict[str, Any]) -> str:
    parts = [f"synthetic exact {metrics['synthetic']['exact']:.4f}"]
    for source, entry in metrics.get("real", {}).items():
        if isinstance(entry, dict) and source != "all":
            parts.append(f"{source} exact {entry['exact']:.4f}")
    return "; ".join(parts)
