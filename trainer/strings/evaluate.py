"""How well the string model reads: synthetic test strings, and a real set when given one.

Readings are decoded as the worker decodes them (:func:`scans.ctc.greedy_decode` over the
model's frames, bounded by the string's width). Figures: exact match of the whole string,
the share read with the right number of digits, digit accuracy (1 - edit distance / true
digits, over all strings), each with its 95% Wilson interval; and how the confidence relates
to being right (:func:`confidence_figures`), for the model's calibrated confidence (the
worker's, :mod:`trainer.string_confidence`) and for the greedy path's probability.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

import numpy as np

from scans.ctc import StringReading, greedy_decode
from scans.decode import decode_grey
from scans.strings import StringImage, string_image
from trainer.string_confidence import calibrate, raw_score

THRESHOLDS = (0.5, 0.7, 0.8, 0.85, 0.9, 0.95)


def wilson(hits: float, total: int, z: float = 1.96) -> list[float]:
    """The 95% Wilson score interval of a proportion."""
    if not total:
        return [0.0, 0.0]
    p = hits / total
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / (1 + z * z / total)
    return [round(max(0.0, centre - half), 4), round(min(1.0, centre + half), 4)]


def edit_distance(a: str, b: str) -> int:
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        previous, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (ca != cb))
    return row[-1]


def score(readings: list[str], truths: list[str]) -> dict[str, Any]:
    """Exact, right length and digit accuracy with their 95% Wilson intervals."""
    n = len(truths)
    exact = sum(r == t for r, t in zip(readings, truths))
    length = sum(len(r) == len(t) for r, t in zip(readings, truths))
    digits = sum(len(t) for t in truths)
    good = max(0, digits - sum(edit_distance(r, t) for r, t in zip(readings, truths)))
    return {"n": n, "exact": round(exact / max(n, 1), 4), "exact_ci": wilson(exact, n),
            "length": round(length / max(n, 1), 4), "length_ci": wilson(length, n),
            "digit": round(good / max(digits, 1), 4), "digit_ci": wilson(good, digits)}


def confidence_figures(confidence: np.ndarray, correct: np.ndarray) -> dict[str, Any]:
    """ECE (10 bins), AUROC of right against wrong, exact match among the most confident
    50/80/90/100%, and at each threshold the share accepted, their precision and the share
    of wrong readings flagged."""
    confidence, correct = np.asarray(confidence, np.float64), np.asarray(correct, bool)
    order = np.argsort(-confidence, kind="stable")
    top = {f"{int(f * 100)}%": round(float(correct[order[: max(1, int(round(f * len(order))))]].mean()), 4)
           for f in (0.5, 0.8, 0.9, 1.0)}
    bins = np.clip((confidence * 10).astype(int), 0, 9)
    ece = sum(abs(confidence[bins == b].mean() - correct[bins == b].mean()) * (bins == b).mean()
              for b in range(10) if (bins == b).any())
    thresholds = []
    for t in THRESHOLDS:
        accepted = confidence >= t
        thresholds.append({
            "threshold": t, "accepted": round(float(accepted.mean()), 4),
            "precision": round(float(correct[accepted].mean()), 4) if accepted.any() else None,
            "errors_flagged": round(float((~accepted & ~correct).sum() / max(1, (~correct).sum())), 4)})
    return {"ece": round(float(ece), 4), "auroc": _auroc(confidence, correct), "top": top, "thresholds": thresholds}


def _auroc(confidence: np.ndarray, correct: np.ndarray) -> float | None:
    right, wrong = confidence[correct], confidence[~correct]
    if not len(right) or not len(wrong):
        return None
    ranks = np.argsort(np.argsort(np.concatenate([right, wrong]), kind="stable"), kind="stable") + 1
    return round(float((ranks[: len(right)].sum() - len(right) * (len(right) + 1) / 2) / (len(right) * len(wrong))), 4)


def read(frames: np.ndarray, widths: np.ndarray) -> list[StringReading]:
    """The worker's readings of a batch of frame probabilities."""
    return [greedy_decode(f, int(w)) for f, w in zip(frames, widths)]


def figures(frames: np.ndarray, widths: np.ndarray, truths: list[str],
            calibration: tuple[float, float]) -> dict[str, Any]:
    """Accuracy and confidence figures of one set of strings: ``confidence`` for the model's
    calibrated confidence (what the worker uses), ``path_probability`` for the greedy path's
    probability (:mod:`scans.ctc`), for comparison."""
    readings = read(frames, widths)
    correct = np.array([r.text == t for r, t in zip(readings, truths)], bool)
    result = score([r.text for r in readings], truths)
    result["confidence"] = confidence_figures(calibrate(raw_score(frames), *calibration), correct)
    result["path_probability"] = confidence_figures(np.array([r.confidence for r in readings]), correct)
    return result


def extent_agreement(readings: list[StringReading], truths: list[str], x0: np.ndarray, scale: np.ndarray,
                     extents: list[list[tuple[float, float]]]) -> dict[str, Any]:
    """How well the decoded per-digit columns (the worker's boxes) match the generator's true
    extents, over the strings read right: mean IoU, share with IoU >= 0.5, and share whose
    decoded centre lies inside the true extent."""
    ious, inside = [], []
    for reading, truth, origin, factor, true in zip(readings, truths, x0, scale, extents):
        if reading.text != truth:
            continue
        for (left, right), (a, b) in zip(origin + reading.columns / factor, true):
            union = max(right, b) - min(left, a)
            ious.append(max(0.0, min(right, b) - max(left, a)) / union if union > 0 else 0.0)
            inside.append(a <= (left + right) / 2 <= b)
    if not ious:
        return {"digits": 0}
    return {"digits": len(ious), "mean_iou": round(float(np.mean(ious)), 4),
            "iou_ge_0.5": round(float(np.mean(np.array(ious) >= 0.5)), 4),
            "centre_inside": round(float(np.mean(inside)), 4)}


def load_real(folder: str | Path) -> tuple[list[StringImage], list[str], list[str]]:
    """A labelled folder (``labels.csv``: ``path``, ``label``): each image decoded as the worker
    decodes a scan (:func:`scans.decode.decode_grey`) and prepared whole by
    :func:`scans.strings.string_image`, its label, and its source (the path's first folder)."""
    root = Path(folder)
    with open(root / "labels.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    images = [string_image(decode_grey((root / row["path"]).read_bytes())) for row in rows]
    sources = [row["path"].split("/", 1)[0] if "/" in row["path"] else "all" for row in rows]
    return images, [row["label"] for row in rows], sources


def real_figures(frames: np.ndarray, images: list[StringImage], truths: list[str], sources: list[str],
                 calibration: tuple[float, float]) -> dict[str, Any]:
    """Per source (and all together), as :func:`figures`."""
    widths = np.array([image.width for image in images])
    result = {}
    for source in [*sorted(set(sources) - {"all"}, reverse=True), "all"]:
        chosen = [i for i, s in enumerate(sources) if s == source or source == "all"]
        result[source] = figures(frames[chosen], widths[chosen], [truths[i] for i in chosen], calibration)
    return result
