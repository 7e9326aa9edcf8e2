"""The string model's calibrated confidence, computed inside the exported graph.

The greedy reading takes each frame's most probable class, merges repeats and drops blanks
(:func:`scans.ctc.greedy_decode` does the same in the worker). Its raw score is the product,
over the digits it emits, of each digit's peak probability in its run of frames: it ranks
right and wrong readings better than the path probability (blanks included), on synthetic
and on real strings. A logistic fit on synthetic validation strings turns it into the chance
that the whole string is right: ``sigmoid(a * log(score) + b)``.

Exported as the signature's ``confidence`` output, the calibration travels with the model
version it belongs to: the worker never holds parameters of its own.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from contracts.models import STRING_BLANK


def raw_score(frames: np.ndarray) -> np.ndarray:
    """The raw scores of a batch of frame probabilities (n, T, classes), in numpy; 0 when the
    reading is empty."""
    best = frames.argmax(axis=2)
    peak = frames.max(axis=2)
    scores = np.zeros(len(frames), np.float64)
    for i, (labels, peaks) in enumerate(zip(best, peak)):
        runs = np.flatnonzero(np.diff(labels, prepend=-1)) if len(labels) else np.zeros(0, int)
        stops = np.append(runs[1:], len(labels))
        kept = [peaks[a:b].max() for a, b in zip(runs, stops) if labels[a] != STRING_BLANK]
        scores[i] = float(np.prod(kept)) if kept else 0.0
    return scores


def _log_score(scores: np.ndarray) -> np.ndarray:
    return np.log(np.maximum(np.asarray(scores, np.float64), 1e-12))


def calibrate(scores: np.ndarray, a: float, b: float) -> np.ndarray:
    """``sigmoid(a * log(score) + b)`` of raw scores, in numpy (what the graph computes)."""
    return 1 / (1 + np.exp(-(a * _log_score(scores) + b)))


def fit(scores: np.ndarray, correct: np.ndarray, iterations: int = 50) -> tuple[float, float]:
    """(a, b) of ``P(correct) = sigmoid(a * log(score) + b)`` by Newton's method (monotone:
    it changes what a threshold means, never the order of readings)."""
    z = _log_score(scores)
    y = np.asarray(correct, np.float64)
    design = np.stack([z, np.ones_like(z)], axis=1)
    weights = np.array([1.0, 0.0])
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(design @ weights)))
        gradient = design.T @ (y - p)
        hessian = design.T @ (design * (p * (1 - p))[:, None]) + 1e-6 * np.eye(2)
        weights = weights + np.linalg.solve(hessian, gradient)
    return float(weights[0]), float(weights[1])


def calibrated_confidence(frames: tf.Tensor, a: float, b: float) -> tf.Tensor:
    """``sigmoid(a * log(raw score) + b)`` per row of ``frames`` (n, T, classes), in the graph;
    an empty reading gets the calibration's floor (its score counts as 1e-12)."""
    best = tf.argmax(frames, axis=2, output_type=tf.int32)
    peak = tf.reduce_max(frames, axis=2)
    rows, steps = tf.shape(best)[0], tf.shape(best)[1]
    previous = tf.concat([tf.fill([rows, 1], -1), best[:, :-1]], axis=1)
    # A run's id is its row's count of run starts so far, offset to be unique across rows.
    starts = tf.cast(tf.not_equal(best, previous), tf.int32)
    run_ids = tf.cumsum(starts, axis=1) - 1 + tf.range(rows)[:, None] * steps
    flat_ids = tf.reshape(run_ids, [-1])
    run_peak = tf.math.unsorted_segment_max(tf.reshape(peak, [-1]), flat_ids, rows * steps)
    run_label = tf.math.unsorted_segment_max(tf.reshape(best, [-1]), flat_ids, rows * steps)
    used = tf.math.unsorted_segment_max(tf.ones_like(flat_ids), flat_ids, rows * steps) > 0
    emitted = tf.logical_and(used, tf.not_equal(run_label, STRING_BLANK))
    log_peak = tf.where(emitted, tf.math.log(tf.maximum(run_peak, 1e-12)), 0.0)
    log_score = tf.reduce_sum(tf.reshape(log_peak, [rows, steps]), axis=1)
    has_digit = tf.reduce_any(tf.reshape(emitted, [rows, steps]), axis=1)
    log_score = tf.where(has_digit, log_score, tf.math.log(1e-12))
    return tf.sigmoid(a * log_score + b)
