"""Accuracy on realistic scans: the worker's preprocessing vs the tutorials', same model, same run.

    python -m bench.scan_accuracy --model-base models --data-dir ../shared/data/mnist [--count 2000]

Scans are generated from MNIST *test* digits (scans/generate.py): single digits 30-300 px high,
digits in printed boxes, and 2-6 digit numbers, all as ink on grey paper with uneven light,
noise, blur and JPEG. Accuracy is an exact match of the whole digit string.

Columns: the digit model behind our preprocessing (``scans.preprocess``) and behind the
tutorials' (resize + invert), and, when the model base has a string model too, what the worker
answers (``worker.reading``: both models and the rule), with the share of scans for which the
digit model was sure enough that the string model was not asked.
"""

from __future__ import annotations

import argparse
import os
import platform
from datetime import date

import numpy as np

from bench.tutorial import tutorial_preprocess
from scans.generate import KINDS, scan_set
from serving.precision import PRECISIONS, resolve_precision, use_precision
from trainer.data import load_mnist
from trainer.evaluate import read_scans


def load_model(model_base: str, name: str, precision: str):
    """The newest exported version's ``serving_default`` as a numpy function (images -> probabilities).

    ``precision`` is the model server's arithmetic (float32, or bfloat16 where the CPU has it).
    """
    import tensorflow as tf

    from contracts.models import existing_versions

    use_precision(precision)

    versions = existing_versions(model_base, name)
    if not versions:
        raise SystemExit(f"no versions of {name!r} under {model_base}; run `digits train` first")
    path = os.path.join(model_base, name, str(versions[-1]))
    fn = tf.saved_model.load(path).signatures["serving_default"]

    def predict(images: np.ndarray) -> np.ndarray:
        out = [fn(images=tf.constant(images[i : i + 1024]))["probabilities"] for i in range(0, len(images), 1024)]
        return np.concatenate([o.numpy() for o in out])

    return predict, path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-base", default=os.environ.get("DIGITS_MODEL_BASE", "models"))
    parser.add_argument("--name", default=os.environ.get("DIGITS_MODEL_NAME", "digits"))
    parser.add_argument("--data-dir", default=os.environ.get("DIGITS_MNIST_DIR"))
    parser.add_argument("--count", type=int, default=2000, help="scans per kind")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--precision", choices=PRECISIONS, default=os.environ.get("DIGITS_SERVING_PRECISION", "auto"),
                        help="the model server's arithmetic to evaluate (default: what `digits serve` picks here)")
    args = parser.parse_args()
    precision = resolve_precision(args.precision)
    predict, path = load_model(args.model_base, args.name, precision)
    data = load_mnist(args.data_dir)
    print(f"model {path} in {precision}; {args.count} scans per kind; seed {args.seed}; {platform.machine()}, "
          f"{os.cpu_count()} cores; {date.today()}\n")
    worker = _worker_reader(args.model_base, args.name)
    print("| scans | ours (scans.preprocess) | tutorial (resize + invert) |"
          + (" worker (both models) | string model skipped |" if worker else ""))
    print("| --- | ---: | ---: |" + (" ---: | ---: |" if worker else ""))
    for kind in KINDS:
        scans = list(scan_set(data.x_test, data.y_test, kind, args.count, args.seed))
        truth = [label for _, label in scans]
        ours = read_scans([blob for blob, _ in scans], predict)
        tutorial = predict(np.stack([tutorial_preprocess(blob) for blob, _ in scans])).argmax(axis=1)
        ours_acc = np.mean([got == want for got, want in zip(ours, truth)])
        tutorial_acc = np.mean([str(got) == want for got, want in zip(tutorial, truth)])
        extra = ""
        if worker:
            read, skipped = worker([blob for blob, _ in scans])
            extra = f" {np.mean([got == want for got, want in zip(read, truth)]):.2%} | {skipped:.1%} |"
        print(f"| {kind} | {ours_acc:.2%} | {tutorial_acc:.2%} |{extra}", flush=True)


def _worker_reader(model_base: str, name: str):
    """``read(blobs) -> (answers, share of scans the string model skipped)`` as the worker
    reads, or None without a string model (or on a model base of another layout)."""
    from pathlib import Path

    from bench.real_accuracy import in_process
    from contracts.models import STRING_MODEL_NAME
    from worker.reading import Models, read_blobs

    digits, strings = in_process(Path(model_base), name), in_process(Path(model_base), STRING_MODEL_NAME)
    if digits is None or strings is None:
        return None
    asked = []

    def counted(images: np.ndarray):
        asked.append(len(images))
        return strings(images)

    def read(blobs: list[bytes]) -> tuple[list[str | None], float]:
        asked.clear()
        rows = [row for start in range(0, len(blobs), 256)
                for row in read_blobs(blobs[start : start + 256], Models(digits, counted), 40_000_000, 0.9)]
        return [row["digits"] for row in rows], 1 - sum(asked) / max(1, len(blobs))

    return read


if __name__ == "__main__":
    main()
