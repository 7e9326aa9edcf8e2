"""The string model's training loop: CTC, AdamW, width bucketing, a fixed number of steps.

A port of the research loop (strlab ``model.train``), with its defaults and seed semantics:
Keras' global seed ``cfg.seed`` before the model is built, batches and the cheap per-batch
variation (contrast gain 0.6-1.15; Gaussian noise of sigma 8 on 30% of the images) drawn from
``default_rng([cfg.seed, 7])``. The learning rate warms up over ``cfg.warmup`` steps to
``cfg.lr`` and decays by a cosine to 2% of it.

**Width bucketing**: each group of 16 batches is sorted by string width and each batch is
cropped to its widest string, rounded up to 16 columns (about 25% less compute than the
full 192 columns); the model is built for any width and the served one is the same weights
in a fixed STRING_WIDTH graph.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from contracts.models import MAX_STRING_DIGITS, STRING_HEIGHT, STRING_WIDTH
from scans.ctc import greedy_decode
from trainer.strings.model import Config, build, ctc_loss, encode_labels, fixed_width, predict

GROUP = 16          # batches sorted by width together
WIDTH_STEP = 16     # a batch's width is rounded up to this many columns


def augment_batch(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Cheap per-batch variation of stored inputs: contrast and a little noise."""
    gain = rng.uniform(0.6, 1.15, (len(x), 1, 1)).astype(np.float32)
    y = x.astype(np.float32) * gain
    noise = rng.random(len(x)) < 0.3
    if noise.any():
        y[noise] += rng.normal(0, 8, y[noise].shape).astype(np.float32)
    return np.clip(y, 0, 255).astype(np.uint8)


def content_widths(x: np.ndarray) -> np.ndarray:
    """Columns up to the last one with any ink, per prepared image."""
    cols = x.max(axis=1) > 0
    last = cols.shape[1] - np.argmax(cols[:, ::-1], axis=1)
    return np.where(cols.any(1), last, 0)


def batches(rng: np.random.Generator, widths: np.ndarray, batch: int, bucket: bool = True,
            group: int = GROUP) -> Iterator[tuple[np.ndarray, int]]:
    """Endless (indices, width) batches. With ``bucket``, each group of ``group`` batches is
    sorted by width, so a batch holds similar widths and is cropped to its widest (rounded
    up to WIDTH_STEP columns); the batches of a group come in random order."""
    n = len(widths)
    if n < batch * group:
        raise ValueError(f"{n} strings make no group of {group} batches of {batch}")
    while True:
        order = rng.permutation(n)
        for g in range(0, n - batch * group + 1, batch * group):
            idx = order[g : g + batch * group]
            if bucket:
                idx = idx[np.argsort(widths[idx], kind="stable")]
            chunks = [idx[k : k + batch] for k in range(0, len(idx), batch)]
            for k in rng.permutation(len(chunks)):
                chosen = np.sort(chunks[k])
                width = STRING_WIDTH
                if bucket:
                    width = int(min(STRING_WIDTH, max(WIDTH_STEP, -(-int(widths[chosen].max()) // WIDTH_STEP)
                                                      * WIDTH_STEP)))
                yield chosen, width


def exact_match(model: keras.Model, x: np.ndarray, labels: list[str]) -> float:
    """Share of ``labels`` read exactly, decoding as the worker does (scans.ctc)."""
    frames = predict(model, x)
    return float(np.mean([greedy_decode(f).text == t for f, t in zip(frames, labels)]))


def train(cfg: Config, x: np.ndarray, labels: list[str], val: tuple[np.ndarray, list[str]] | None = None,
          progress: Any = None, val_every: int = 1000,
          bucket: bool = True) -> tuple[keras.Model, list[dict[str, float]]]:
    """Train for ``cfg.steps`` steps of ``cfg.batch``; the fixed-width model and the history.

    ``progress``: a :class:`trainer.progress.StepProgress` over ``cfg.steps`` (or None).
    """
    keras.utils.set_random_seed(cfg.seed)
    model, logits_model = build(cfg, None if bucket else STRING_WIDTH)
    y, ylen = encode_labels(labels, MAX_STRING_DIGITS)
    widths = content_widths(x)
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=cfg.lr * 0.05, decay_steps=max(1, cfg.steps - cfg.warmup), alpha=0.02,
        warmup_target=cfg.lr, warmup_steps=cfg.warmup)
    optimizer = keras.optimizers.AdamW(learning_rate=schedule, weight_decay=cfg.weight_decay, clipnorm=5.0)

    @tf.function(input_signature=[tf.TensorSpec([None, STRING_HEIGHT, None], tf.uint8),
                                  tf.TensorSpec([None, None], tf.int32), tf.TensorSpec([None], tf.int32)])
    def step(xb, yb, lb):
        with tf.GradientTape() as tape:
            logits = logits_model(xb, training=True)
            loss = tf.reduce_mean(ctc_loss(yb, lb, logits))
        grads = tape.gradient(loss, logits_model.trainable_variables)
        optimizer.apply_gradients(zip(grads, logits_model.trainable_variables))
        return loss

    rng = np.random.default_rng([cfg.seed, 7])
    feed = batches(rng, widths, cfg.batch, bucket)
    history: list[dict[str, float]] = []
    started = time.monotonic()
    running = 0.0
    columns = 0
    fixed = None
    say: Callable[[str], None] = progress.note if progress is not None else print
    for s in range(1, cfg.steps + 1):
        idx, width = next(feed)
        columns += width * len(idx)
        xb = augment_batch(x[idx, :, :width], rng)
        loss = float(step(tf.constant(xb), tf.constant(y[idx]), tf.constant(ylen[idx])))
        running = loss if s == 1 else 0.98 * running + 0.02 * loss
        if progress is not None:
            elapsed = time.monotonic() - started
            progress.advance(1, f"loss {running:.3f}  lr {float(schedule(s)):.1e}  "
                                f"{s * cfg.batch / max(elapsed, 1e-9):.0f} img/s")
        if val is not None and (s % val_every == 0 or s == cfg.steps):
            fixed = fixed_width(cfg, model, fixed) if bucket else model
            accuracy = exact_match(fixed, *val)
            history.append({"step": s, "loss": round(running, 4), "val_exact": round(accuracy, 4),
                            "seconds": round(time.monotonic() - started, 1),
                            "mean_width": round(columns / (s * cfg.batch), 1)})
            say(f"step {s}/{cfg.steps}: loss {running:.3f}, synthetic validation exact {accuracy:.4f}, "
                f"mean width {columns / (s * cfg.batch):.0f} columns")
    return (fixed_width(cfg, model, fixed) if bucket else model), history
