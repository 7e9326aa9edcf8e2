"""How the worker's reader was chosen: its variants on the selection sets, never on real images.

    python -m bench.reader_selection --model-base models --data-dir ../shared/data/mnist

The selection sets are made only from the ``HOLDOUT`` MNIST *training* digits that the string
model never trains on (:func:`scans.synth.split_indices`): synthetic strings
(:func:`scans.synth.sample`, as the string model's validation) and generated scans (single
digits, digits in boxes, 2-6 digit numbers, :mod:`scans.generate`). The real dev set plays no
part here: ``bench.real_accuracy`` validates the choice afterwards.

Each variant reads every scan as the worker does (:func:`worker.reading.read_blobs`, both
models in-process) and differs in one of the choices the worker makes:

* ``cut weight``: how much the digit model's reading of the string model's cuts weighs on
  each digit (:mod:`worker.fusion`; 0: not asked);
* ``apart`` (the count rule): when the two models count differently, the string model's
  count wins where some of the digit model's neighbouring boxes are under this distance apart
  (x their height; :func:`worker.reading.choose`); "off": the more confident answer wins
  whatever the counts; "always": the string model's count wins whatever the distance.

The worker's variant (marked) was chosen here as the one that read the most synthetic strings
without reading any kind of generated scan worse than the reader before it (the first row);
BENCHMARKS.md says where this table and the real dev set have since disagreed.
"""

from __future__ import annotations

import argparse
import functools
from pathlib import Path

from PIL import Image

from bench.machine import describe
from bench.real_accuracy import REVIEW_THRESHOLD, Score, in_process
from contracts.models import DEFAULT_MODEL_NAME, STRING_MODEL_NAME
from scans.generate import encode, scan_set
from scans.synth import HOLDOUT, Bank, sample, split_indices
from trainer.data import load_mnist
from worker.fusion import CUT_WEIGHT
from worker.reading import APART, Models, choose, read_blobs

# The synthetic strings' seed: none of the string model's training, validation or test sets.
SEED = 4243
GENERATED = ("single", "boxed", "number")
# (cut weight, apart): the reader before the second look and the count rule first, then the
# weights with the count rule, then the count rule's distances with the best weight.
VARIANTS = [(0.0, None), (0.0, 0.1), (0.1, 0.1), (0.2, 0.1), (0.3, 0.1), (0.5, 0.1),
            (0.2, 0.0), (0.2, 0.2), (0.2, float("inf"))]


def selection_sets(data_dir: str, strings: int, scans: int) -> dict[str, tuple[list[bytes], list[str]]]:
    """The selection sets: name -> (encoded images, true digit strings)."""
    mnist = load_mnist(data_dir)
    held_out = split_indices(len(mnist.x_train), "val")
    images, labels = mnist.x_train[held_out], mnist.y_train[held_out]
    bank = Bank.from_mnist(mnist.x_train, mnist.y_train, "val")
    drawn = [sample(bank, SEED, i) for i in range(strings)]
    blobs = [encode(Image.fromarray(s.image), "PNG") for s in drawn]
    sets = {"synthetic strings": (blobs, [s.label for s in drawn])}
    for kind in GENERATED:
        pairs = list(scan_set(images, labels, kind, scans, seed=SEED))
        sets[kind] = ([blob for blob, _ in pairs], [label for _, label in pairs])
    return sets


def score(models: Models, blobs: list[bytes], truths: list[str], weight: float, apart: float | None) -> Score:
    """One variant's figures on one set."""
    result = Score()
    rule = functools.partial(choose, apart=apart)
    for start in range(0, len(blobs), 256):
        rows = read_blobs(blobs[start : start + 256], models, 40_000_000, REVIEW_THRESHOLD, rule=rule,
                          cut_weight=weight)
        for truth, row in zip(truths[start : start + 256], rows):
            result.add(truth, row["digits"], row["needs_review"])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-base", type=Path, default=Path("models"))
    parser.add_argument("--data-dir", required=True, help="the MNIST IDX files")
    parser.add_argument("--strings", type=int, default=3000, help="synthetic strings")
    parser.add_argument("--scans", type=int, default=1500, help="generated scans of each kind")
    args = parser.parse_args()
    digits = in_process(args.model_base, DEFAULT_MODEL_NAME)
    strings = in_process(args.model_base, STRING_MODEL_NAME)
    if digits is None or strings is None:
        raise SystemExit(f"both models are needed in {args.model_base}")
    models = Models(digits, strings)
    sets = selection_sets(args.data_dir, args.strings, args.scans)
    print(describe())
    print(f"selection sets from the {HOLDOUT:,} held-out MNIST training digits; "
          f"review threshold {REVIEW_THRESHOLD}; exact match (accepted share, exact among accepted)")
    names = " | ".join(f"{name} ({len(truths)})" for name, (_, truths) in sets.items())
    print(f"| cut weight | count rule (boxes apart) | {names} |")
    print("| ---: | ---: | " + " | ".join("---:" for _ in sets) + " |")
    for weight, apart in VARIANTS:
        cells = []
        for blobs, truths in sets.values():
            figures = score(models, blobs, truths, weight, apart)
            cells.append(f"{100 * figures.exact / figures.total:.2f}% ({100 * figures.accepted / figures.total:.1f}%, "
                         f"{100 * figures.accepted_right / max(figures.accepted, 1):.2f}%)")
        chosen = " (the worker's)" if (weight, apart) == (CUT_WEIGHT, APART) else ""
        rule = "off" if apart is None else "always" if apart == float("inf") else f"under {apart}"
        print(f"| {weight}{chosen} | {rule} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
