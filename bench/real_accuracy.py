"""Accuracy on real handwriting: the worker's readers on ../shared/data/real-dev, per source.

    python -m bench.real_accuracy --model-base models [--real-dev ../shared/data/real-dev]

The images were written by people outside this project (phone photos of digit strings, bank
cheque amounts); they are for validation only, never for training. In the same run, on the
same images, with the same models loaded in-process:

* **ours**: what the worker answers (:mod:`worker.reading`: the digit model, the string
  model, the digit model's second look at the string model's cuts, and the rule that chooses);
* **ours, string model on every scan**: the same without skipping the string model where the
  digit model is sure (``worker.reading.SURE``), to show what that shortcut costs;
* **ours before the second look**: the worker as it was before the digit model read the
  string model's cuts and before a count disagreement went to the string model;
* **digit model alone**: what the worker answered before the string model (the digit
  pipeline, digit by digit);
* **string model alone**: the string model's own reading.

For each: exact match of the whole string, the share with the right number of digits, and
digit accuracy (1 - edit distance / true length), each with a 95% Wilson interval; for ours,
also the share accepted at the default review threshold (``needs_review`` false) and the
exact-match precision among them.
"""

from __future__ import annotations

import argparse
import csv
import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.machine import describe
from contracts.models import (
    DEFAULT_MODEL_NAME,
    DIGIT_PROBABILITIES,
    SIGNATURE_NAME,
    STRING_CONFIDENCE,
    STRING_MODEL_NAME,
    existing_versions,
)
from trainer.strings.evaluate import edit_distance, wilson
from worker.fusion import CUT_WEIGHT
from worker.reading import SURE, Models, choose, read_blobs
from worker.serving_client import Prediction

REVIEW_THRESHOLD = 0.9


@dataclass
class Score:
    total: int = 0
    exact: int = 0
    length: int = 0
    true_digits: int = 0
    errors: int = 0
    accepted: int = 0
    accepted_right: int = 0

    def add(self, truth: str, read: str | None, needs_review: bool) -> None:
        read = read or ""
        self.total += 1
        self.exact += read == truth
        self.length += len(read) == len(truth)
        self.true_digits += len(truth)
        self.errors += min(edit_distance(read, truth), len(truth))
        if not needs_review:
            self.accepted += 1
            self.accepted_right += read == truth

    def cells(self) -> list[str]:
        def share(hits: int, total: int) -> str:
            low, high = wilson(hits, total)
            return f"{100 * hits / max(total, 1):.1f}% [{100 * low:.1f}-{100 * high:.1f}]"

        digit = 1 - self.errors / max(self.true_digits, 1)
        low, high = wilson(self.true_digits - self.errors, self.true_digits)
        return [share(self.exact, self.total), share(self.length, self.total),
                f"{100 * digit:.1f}% [{100 * low:.1f}-{100 * high:.1f}]",
                share(self.accepted, self.total), share(self.accepted_right, self.accepted)]


def in_process(model_base: Path, name: str) -> Callable[[np.ndarray], Prediction] | None:
    """The newest version of a model, run in this process as the server would run it."""
    import tensorflow as tf

    versions = existing_versions(model_base, name)
    if not versions:
        return None
    fn = tf.saved_model.load(str(model_base / name / str(versions[-1]))).signatures[SIGNATURE_NAME]

    def predict(images: np.ndarray) -> Prediction:
        parts = [fn(images=tf.constant(images[i : i + 256])) for i in range(0, len(images), 256)]
        confidence = ([p[STRING_CONFIDENCE].numpy() for p in parts] if STRING_CONFIDENCE in fn.structured_outputs
                      else None)
        return Prediction(np.concatenate([p[DIGIT_PROBABILITIES].numpy() for p in parts]), versions[-1],
                          np.concatenate(confidence) if confidence else None)

    return predict


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-base", type=Path, default=Path("models"))
    parser.add_argument("--real-dev", type=Path, default=Path("../shared/data/real-dev"))
    args = parser.parse_args()
    with open(args.real_dev / "labels.csv", newline="") as handle:
        labelled = list(csv.DictReader(handle))
    digits = in_process(args.model_base, DEFAULT_MODEL_NAME)
    strings = in_process(args.model_base, STRING_MODEL_NAME)
    if digits is None:
        raise SystemExit(f"no {DEFAULT_MODEL_NAME!r} model in {args.model_base}")
    # name -> (models, rule, sure, cut weight)
    readers = {"ours (both models)": (Models(digits, strings), None, SURE, CUT_WEIGHT),
               "digit model alone": (Models(digits), None, SURE, CUT_WEIGHT)}
    if strings is not None:
        readers["ours, string model on every scan"] = (Models(digits, strings), None, 2.0, CUT_WEIGHT)
        readers["ours before the second look"] = (Models(digits, strings), functools.partial(choose, apart=None),
                                                   SURE, 0.0)
        readers["string model alone"] = (Models(digits, strings), lambda scan, d, s: s or d, 2.0, 0.0)
    scores: dict[tuple[str, str], Score] = {}
    blobs = [(args.real_dev / row["path"]).read_bytes() for row in labelled]
    for name, (models, rule, sure, weight) in readers.items():
        for start in range(0, len(blobs), 256):
            rows = read_blobs(blobs[start : start + 256], models, 40_000_000, REVIEW_THRESHOLD, rule=rule, sure=sure,
                              cut_weight=weight)
            for truth, row in zip(labelled[start : start + 256], rows):
                source = truth["path"].split("/", 1)[0]
                for key in ((name, source), (name, "all")):
                    scores.setdefault(key, Score()).add(truth["label"], row["digits"], row["needs_review"])
    print(describe())
    print(f"real-dev: {len(labelled)} images; review threshold {REVIEW_THRESHOLD}")
    print("| reader | source | n | exact | right length | digits | accepted | exact among accepted |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    sources = sorted({source for _, source in scores} - {"all"}, reverse=True) + ["all"]
    for name in readers:
        for source in sources:
            score = scores[(name, source)]
            print(f"| {name} | {source} | {score.total} | " + " | ".join(score.cells()) + " |")


if __name__ == "__main__":
    main()
