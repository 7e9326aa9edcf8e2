"""Reading a chunk of scans with both models, and choosing an answer for each.

Pure: image bytes and two predict functions in, result rows out. The worker passes gRPC
calls to the model server; the benchmarks pass the models in-process, so both read alike.

Each scan is decoded once (:func:`scans.strings.read_scan`): its digits, cut apart, for the
digit model, and the region they span, as one image, for the string model. All digits of the
chunk go in one Predict to the digit model; then the strings of the scans whose digit reading
is not already sure (:data:`SURE`) go in one Predict to the string model; the digits it read,
cut out where it read them (:mod:`scans.string_cuts`), go in one more Predict to the digit
model, which weighs on each (:mod:`worker.fusion`). Then :func:`choose` picks the answer of
each scan (see there).
"""

from __future__ import annotations

import base64
import io
import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image
from rq.timeouts import JobTimeoutException

from contracts.errors import ErrorCode, ReadError
from contracts.models import MAX_STRING_DIGITS
from contracts.rows import DigitReading, ResultRow, error_row
from scans.ctc import StringReading, greedy_decode
from scans.errors import NoDigitFoundError, TooManyDigitsError
from scans.string_cuts import digit_inputs
from scans.strings import ScanReading, StringImage, read_scan
from worker.errors import ImageExpiredError
from worker.fusion import CUT_WEIGHT, fuse
from worker.serving_client import Prediction

log = logging.getLogger(__name__)

# Which model answered: the digit model, the string model, or both alike.
DIGITS, STRING, BOTH = "digits", "string", "both"

# A digit reading this sure is the answer without asking the string model. Chosen on the
# same selection sets as the rule (synthetic strings, generated scans from held-out MNIST
# training digits): at 0.99 every answer there stays the same, and the string model is
# skipped for 95% of single digits and boxed forms and 86% of numbers (BENCHMARKS.md).
SURE = 0.99
# Digit boxes this far apart (a share of their median height) are a cut the string model's
# count does not overrule (see choose). Chosen with the cut weight (worker.fusion) on the
# selection sets (`python -m bench.reader_selection`): 0.1 read 62.9% of 3,000 synthetic
# strings (60.7% before) and every kind of generated scan as well or better; 0.2 read 7 more
# strings (within noise) but 2 fewer numbers, and 5 fewer of bench.scan_accuracy's 2,000
# numbers, where 0.1 changed none; 0 read fewer strings (62.7%), and overruling whatever the
# distance lost numbers (98.5% against 98.7%). (Figures of the string model reading once; with
# its three views the count rule still gains, 62.3% to 64.5%: BENCHMARKS.md.)
APART = 0.1


@dataclass(frozen=True)
class Models:
    """How to run each model on a batch. ``strings`` is None when no string model is served:
    the digit model then answers alone."""

    digits: Callable[[np.ndarray], Prediction]
    strings: Callable[[np.ndarray], Prediction | None] | None = None


@dataclass(frozen=True)
class Answer:
    """One reader's answer for a scan, before it becomes a row."""

    reader: str
    text: str
    confidence: float
    per_digit: list[DigitReading]
    version: int


def read_blobs(blobs: list[bytes | None], models: Models, max_pixels: int, review_threshold: float,
               include_inputs: bool = False, rule: Rule | None = None, sure: float = SURE,
               cut_weight: float = CUT_WEIGHT) -> list[ResultRow]:
    """A result row per blob, in order; a blob that cannot be read gets its own error row.

    ``rule`` picks each scan's answer (:func:`choose` by default), ``sure`` is where the
    digit model's answer stands alone (above 1: never) and ``cut_weight`` how much the digit
    model's reading of the string model's cuts weighs (0: not asked); the benchmarks compare
    others.
    """
    rule = rule or choose
    rows: list[ResultRow | None] = [None] * len(blobs)
    scans: list[tuple[int, ScanReading]] = []
    for pos, data in enumerate(blobs):
        if data is None:
            rows[pos] = error_row(ImageExpiredError.code, "the uploaded image is no longer stored")
            continue
        try:
            scans.append((pos, read_scan(data, max_pixels)))
        except ReadError as exc:
            rows[pos] = error_row(exc.code, str(exc))
        except JobTimeoutException:
            raise  # the chunk ran out of time: not this image's doing
        except Exception as exc:  # noqa: BLE001 - one image's failure is its own row, never the chunk's
            log.exception("image %d of %d could not be read", pos + 1, len(blobs))
            what = "reading it ran out of memory" if isinstance(exc, MemoryError) else f"{type(exc).__name__}: {exc}"
            rows[pos] = error_row(ErrorCode.INVALID_IMAGE, f"the image could not be read ({what})")
    if scans:
        digit_answers = _digit_answers([scan for _, scan in scans], models.digits, include_inputs)
        asked = [n for n, answer in enumerate(digit_answers) if _unsure(answer, sure)]
        string_answers: list[Answer | None] = [None] * len(scans)
        for n, answer in zip(asked, _string_answers([scans[n][1] for n in asked], models, include_inputs,
                                                    cut_weight)):
            string_answers[n] = answer
        for n, (pos, scan) in enumerate(scans):
            answer = rule(scan, digit_answers[n], string_answers[n])
            if answer is None or not answer.text:
                refusal = scan.refusal or NoDigitFoundError("no digit found: the string model read no digit "
                                                            "in the marks")
                rows[pos] = error_row(refusal.code, str(refusal))
            elif answer.reader == STRING and len(answer.text) > MAX_STRING_DIGITS:
                # Past what it was trained on, a reading is a guess at best: say so, never truncate.
                rows[pos] = error_row(TooManyDigitsError.code, f"the string model read {len(answer.text)} digits, "
                                      f"more than the {MAX_STRING_DIGITS} it reads")
            else:
                rows[pos] = _row(answer, review_threshold)
    return rows  # type: ignore[return-value]


Rule = Callable[[ScanReading, "Answer | None", "Answer | None"], "Answer | None"]


def choose(scan: ScanReading, digits: Answer | None, string: Answer | None,
           apart: float | None = APART) -> Answer | None:
    """The answer for one scan, from the digit model's and the string model's.

    Chosen by measurement on synthetic strings and on generated scans made from held-out MNIST
    training digits (never on the real dev set; BENCHMARKS.md has the comparison):

    * where the digit pipeline found no digit (or too many marks), only the string model may
      answer; where there is no string model, or the pipeline found more digits than the
      string model reads (``MAX_STRING_DIGITS``), only the digit model;
    * both read the same: that reading, with the chance that either is right (noisy OR of
      the two confidences), and the digit model's per-digit boxes (cut from the ink itself);
    * they differ in the number of digits, and some of the digit model's neighbouring boxes
      are closer than ``apart`` of their height (touching, joined, or cut out of one piece of
      ink): the string model, which counts digits without cutting them, discounted by the
      digit model's confidence. Digits that stand apart are a cut the count does not overrule
      (``apart`` None: never overruled);
    * they differ otherwise: the more confident one, its confidence discounted by the other's
      (a confident disagreement is a reason to look).

    The string model's confidence is calibrated on synthetic strings; the digit model's is the
    product of its digits' calibrated confidences, which cannot see a wrong cut into digits:
    the disagreement with the string model is what shows it.
    """
    if digits is None or string is None or len(digits.per_digit) > MAX_STRING_DIGITS:
        return digits or string
    if string.text == digits.text:
        either = 1 - (1 - string.confidence) * (1 - digits.confidence)
        return Answer(BOTH, digits.text, either, digits.per_digit, digits.version)
    if apart is not None and string.text and len(string.text) != len(digits.text) \
            and not _cut_apart(digits.per_digit, apart):
        winner, loser = string, digits
    else:
        winner, loser = (string, digits) if string.confidence >= digits.confidence else (digits, string)
    return Answer(winner.reader, winner.text, winner.confidence * (1 - loser.confidence), winner.per_digit,
                  winner.version)


def _cut_apart(per_digit: list[DigitReading], apart: float) -> bool:
    """Whether every two neighbouring boxes stand more than ``apart`` x their median height apart."""
    boxes = sorted(entry["box"] for entry in per_digit)
    if len(boxes) < 2:
        return True
    height = float(np.median([box[3] for box in boxes]))
    return all(right[0] - (left[0] + left[2]) > apart * height for left, right in zip(boxes, boxes[1:]))


def _unsure(digits: Answer | None, sure: float) -> bool:
    """Whether the string model should read this scan too."""
    return digits is None or (digits.confidence < sure and len(digits.per_digit) <= MAX_STRING_DIGITS)


def _digit_answers(scans: list[ScanReading], predict: Callable[[np.ndarray], Prediction],
                   include_inputs: bool) -> list[Answer | None]:
    found = [scan.digits for scan in scans if scan.digits is not None]
    prediction = predict(np.concatenate([digits.images for digits in found])) if found else None
    answers: list[Answer | None] = []
    start = 0
    for scan in scans:
        if scan.digits is None or prediction is None:
            answers.append(None)
            continue
        count = len(scan.digits.images)
        probs = prediction.probabilities[start : start + count]
        start += count
        classes = probs.argmax(axis=1)
        confidences = probs[np.arange(count), classes]
        per_digit = [_digit(int(d), float(c), scan.digits.boxes[i], probs[i],
                            scan.digits.images[i] if include_inputs else None)
                     for i, (d, c) in enumerate(zip(classes, confidences))]
        answers.append(Answer(DIGITS, "".join(str(int(d)) for d in classes), float(np.prod(confidences)),
                              per_digit, prediction.model_version))
    return answers


def _string_answers(scans: list[ScanReading], models: Models, include_inputs: bool,
                    cut_weight: float) -> list[Answer | None]:
    if models.strings is None or not scans:
        return [None] * len(scans)
    prediction = models.strings(np.stack([scan.string.image for scan in scans]))
    if prediction is None:
        return [None] * len(scans)
    readings = [greedy_decode(frames, scan.string.width) for scan, frames in zip(scans, prediction.probabilities)]
    # The model's calibrated confidence; a model without one gets the path probability.
    confidences = [reading.confidence if prediction.confidence is None else float(prediction.confidence[n])
                   for n, reading in enumerate(readings)]
    if cut_weight > 0:
        readings, confidences = _second_look(scans, readings, confidences, models.digits, cut_weight)
    return [_string_answer(scan.string, reading, confidence, prediction.model_version, include_inputs)
            for scan, reading, confidence in zip(scans, readings, confidences)]


def _second_look(scans: list[ScanReading], readings: list[StringReading], confidences: list[float],
                 predict: Callable[[np.ndarray], Prediction], weight: float) -> tuple[list[StringReading], list[float]]:
    """The string readings with the digit model's reading of their cuts weighed in (one Predict
    for the chunk; readings past MAX_STRING_DIGITS are an error anyway, and not asked about)."""
    asked = [n for n, reading in enumerate(readings) if 0 < len(reading.text) <= MAX_STRING_DIGITS]
    if not asked:
        return readings, confidences
    cuts = [digit_inputs(scans[n].string.image, readings[n].columns) for n in asked]
    probabilities = predict(np.concatenate(cuts)).probabilities
    readings, confidences = list(readings), list(confidences)
    start = 0
    for n, images in zip(asked, cuts):
        readings[n], confidences[n] = fuse(readings[n], confidences[n], probabilities[start : start + len(images)],
                                           weight)
        start += len(images)
    return readings, confidences


def _string_answer(image: StringImage, reading: StringReading, confidence: float, version: int,
                   include_inputs: bool) -> Answer:
    per_digit = []
    for i, char in enumerate(reading.text):
        left, right = reading.columns[i]
        crop = image.image[:, int(left) : max(int(left) + 1, int(np.ceil(right)))] if include_inputs else None
        per_digit.append(_digit(int(char), float(reading.digit_confidences[i]), image.page_box(left, right),
                                reading.probabilities[i], crop))
    return Answer(STRING, reading.text, confidence, per_digit, version)


def _digit(digit: int, confidence: float, box, probabilities: np.ndarray, image: np.ndarray | None) -> DigitReading:
    entry: DigitReading = {"digit": digit, "confidence": round(confidence, 6), "box": [int(v) for v in box],
                           "probabilities": [round(float(p), 6) for p in probabilities]}
    if image is not None:
        entry["input_png"] = png_base64(image)
    return entry


def _row(answer: Answer, review_threshold: float) -> ResultRow:
    return {
        "digits": answer.text,
        "confidence": round(answer.confidence, 6),
        "needs_review": answer.confidence < review_threshold,
        "per_digit": answer.per_digit,
        "model_version": answer.version,
        "reader": answer.reader,
        "error": None,
    }


def png_base64(image: np.ndarray) -> str:
    """A uint8 array as a base64-encoded PNG (for showing users what the model saw)."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")
