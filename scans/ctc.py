"""Reading the string model's output: CTC greedy decoding, in numpy.

The model gives, for each frame (``STRING_STRIDE`` columns of its input), the probabilities
of the CTC blank and of each digit. The greedy reading takes the most probable class of each
frame, merges repeated classes and drops blanks. Its confidence is the probability of that
best path (the product of every frame's maximum, blanks included): a lower bound of the
string's probability, which a doubtful frame anywhere, even between digits, pulls down.

Each digit's place comes from the alignment: the run of frames that emitted it gives its
centre; neighbours are split halfway between centres, and the outer edges lie half the
median pitch beyond the first and last centres.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from contracts.models import STRING_BLANK, STRING_STRIDE


@dataclass(frozen=True)
class StringReading:
    """A greedy reading of one image's frames.

    ``probabilities``: (n, 10) per digit, its digit classes at the frame where it peaks,
    renormalised without the blank; ``columns``: (n, 2) left and right edges in model-input
    columns.
    """

    text: str
    confidence: float
    probabilities: np.ndarray
    columns: np.ndarray

    @property
    def digit_confidences(self) -> np.ndarray:
        return self.probabilities.max(axis=1) if len(self.probabilities) else np.zeros(0, np.float32)


def greedy_decode(frames: np.ndarray, width: float | None = None) -> StringReading:
    """The greedy reading of ``frames`` (T, 11); ``width`` bounds the edges (model columns
    holding the string, the rest being padding)."""
    best = frames.argmax(axis=1)
    peak = frames[np.arange(len(best)), best]
    confidence = float(np.exp(np.log(np.maximum(peak, 1e-12)).sum()))
    change = np.flatnonzero(np.diff(best)) + 1
    starts = np.concatenate(([0], change)).astype(int)
    stops = np.concatenate((change, [len(best)])).astype(int)
    digits, probabilities, centres = [], [], []
    for start, stop in zip(starts, stops):
        label = int(best[start])
        if label == STRING_BLANK:
            continue
        run = peak[start:stop]
        at = start + int(run.argmax())
        digit_probs = np.delete(frames[at], STRING_BLANK)
        probabilities.append(digit_probs / max(float(digit_probs.sum()), 1e-12))
        digits.append(label - 1 if STRING_BLANK == 0 else label)
        # The run's centre of mass, in input columns (a frame covers STRING_STRIDE of them).
        centres.append(STRING_STRIDE * (start + float((np.arange(len(run)) * run).sum() / max(run.sum(), 1e-12)))
                       + STRING_STRIDE / 2)
    limit = float(width) if width else float(len(best) * STRING_STRIDE)
    return StringReading(
        text="".join(str(d) for d in digits),
        confidence=confidence,
        probabilities=np.array(probabilities, np.float32).reshape(-1, 10),
        columns=_edges(np.array(centres, np.float64), limit),
    )


def _edges(centres: np.ndarray, limit: float) -> np.ndarray:
    if not len(centres):
        return np.zeros((0, 2), np.float64)
    pitch = float(np.median(np.diff(centres))) if len(centres) > 1 else 0.6 * limit
    middles = (centres[:-1] + centres[1:]) / 2
    left = np.clip(np.concatenate(([centres[0] - pitch / 2], middles)), 0, limit)
    right = np.clip(np.concatenate((middles, [centres[-1] + pitch / 2])), 0, limit)
    return np.stack([left, right], axis=1)
