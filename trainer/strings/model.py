"""The string model: a CNN over the 32-row string image, a temporal convolution network, CTC.

Input: uint8 [-1, STRING_HEIGHT, W] as :func:`scans.strings.string_image` makes it (ink bright
on 0); normalisation is inside the model. Output: float32 [-1, W / STRING_STRIDE,
STRING_CLASSES] per-frame probabilities; class 0 is the CTC blank, class d + 1 digit d, and
frame t covers input columns [4t, 4t + 4).

Layers (the research recipe, strlab ``model.py``: 249,947 parameters at the defaults): conv
3x3 stride 2 (c0) -> conv c1 -> max-pool 2 -> conv c2 -> conv c2 -> max-pool (2, 1) -> conv c3
(each conv + batch norm + ReLU) -> the 4 rows x c3 channels of each column flattened ->
dropout -> dense 2u ReLU -> 3 residual dilated conv1d (2u, kernel 3, dilation 1, 2, 4) ->
dropout -> dense 11 -> softmax.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from contracts.models import DIGIT_INPUT, STRING_BLANK, STRING_CLASSES, STRING_HEIGHT, STRING_WIDTH

# The rows each string image is read moved by: the frames of the three views are averaged.
# A one-row move changes which 2 x 2 pooling cell a stroke falls in; averaging over the moves
# takes out that accident of placement. Chosen on the synthetic test strings: 68.2% exact
# against 66.5% for one view, the same weights; two rows each way read no more (BENCHMARKS.md).
READ_SHIFTS = (-1, 0, 1)


@dataclass(frozen=True)
class Config:
    """The network and its optimisation; the defaults are the research's final recipe."""

    channels: tuple[int, ...] = (16, 32, 48, 64)
    units: int = 64           # the sequence layers are 2 x units wide
    dropout: float = 0.1
    steps: int = 9000
    batch: int = 32
    lr: float = 2e-3          # peak of the schedule: warm-up, then cosine decay to 2% of it
    warmup: int = 300
    weight_decay: float = 1e-4
    seed: int = 1

    def describe(self) -> dict:
        return {**asdict(self), "channels": list(self.channels)}


def build(cfg: Config, width: int | None = STRING_WIDTH) -> tuple[keras.Model, keras.Model]:
    """(model, logits_model) sharing their weights: ``model`` ends in the softmax (what is
    served), ``logits_model`` gives the logits the CTC loss takes. ``width=None`` accepts any
    width (a multiple of 4), as the width-bucketed training loop needs."""
    c, h = cfg.channels, STRING_HEIGHT
    inputs = keras.Input((h, width), dtype="uint8", name=DIGIT_INPUT)
    x = layers.Rescaling(1.0 / 255.0, name="scale")(inputs)
    x = layers.Reshape((h, -1, 1), name="chan")(x)
    x = layers.Conv2D(c[0], 3, strides=2, padding="same", use_bias=False, name="c1_conv")(x)
    x = layers.ReLU(name="c1_relu")(layers.BatchNormalization(name="c1_bn")(x))  # 16 x W/2
    x = _conv_bn_relu(x, c[1], "c2")
    x = layers.MaxPool2D(2, name="p2")(x)                                          # 8 x W/4
    x = _conv_bn_relu(x, c[2], "c3")
    x = _conv_bn_relu(x, c[2], "c4")
    x = layers.MaxPool2D((2, 1), name="p3")(x)                                     # 4 x W/4
    x = _conv_bn_relu(x, c[3], "c5")
    x = layers.Permute((2, 1, 3), name="cols")(x)                                  # frames x 4 x c3
    x = layers.Reshape((-1, x.shape[2] * x.shape[3]), name="frames")(x)
    x = layers.Dropout(cfg.dropout, name="drop1")(x)
    x = layers.Dense(2 * cfg.units, activation="relu", name="proj")(x)
    for i, dilation in enumerate((1, 2, 4)):
        y = layers.Conv1D(2 * cfg.units, 3, padding="same", dilation_rate=dilation, activation="relu",
                          name=f"tcn{i}")(x)
        x = layers.Add(name=f"tcn{i}_add")([x, y])
    x = layers.Dropout(cfg.dropout, name="drop2")(x)
    logits = layers.Dense(STRING_CLASSES, name="logits")(x)
    probabilities = layers.Softmax(name="probabilities", dtype="float32")(logits)
    return keras.Model(inputs, probabilities, name="strread"), keras.Model(inputs, logits, name="strread_logits")


def _conv_bn_relu(x, filters: int, name: str):
    x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def fixed_width(cfg: Config, model: keras.Model, fixed: keras.Model | None = None) -> keras.Model:
    """The served model (STRING_WIDTH columns) with the weights of ``model`` (any width)."""
    if fixed is None:
        fixed, _ = build(cfg, STRING_WIDTH)
    fixed.set_weights(model.get_weights())
    return fixed


def encode_labels(labels: list[str], max_len: int) -> tuple[np.ndarray, np.ndarray]:
    """Dense int32 [n, max_len] (digit + 1, padded with 0) and the lengths [n]."""
    out = np.zeros((len(labels), max_len), np.int32)
    lengths = np.zeros(len(labels), np.int32)
    for i, text in enumerate(labels):
        text = text[:max_len]
        out[i, : len(text)] = [int(ch) + 1 for ch in text]
        lengths[i] = len(text)
    return out, lengths


def ctc_loss(labels: tf.Tensor, label_length: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
    """Per-string CTC loss of batch-major ``logits`` over all their frames (blank = class 0)."""
    frames, batch = tf.shape(logits)[1], tf.shape(logits)[0]
    return tf.nn.ctc_loss(labels=labels, logits=logits, label_length=label_length,
                          logit_length=tf.fill([batch], frames), logits_time_major=False,
                          blank_index=STRING_BLANK)


def read(model: keras.Model, images: tf.Tensor, shifts: tuple[int, ...] = READ_SHIFTS) -> tf.Tensor:
    """The frame probabilities the served graph answers: the mean of ``model``'s frames over
    the images moved ``shifts`` rows down (up when negative), blank rows let in. The frames of
    all the views cover the same columns, so they average position by position; one call of
    the model takes every view of the batch."""
    views = [_shift_rows(images, shift) for shift in shifts]
    frames = tf.cast(model(tf.concat(views, axis=0), training=False), tf.float32)
    return tf.reduce_mean(tf.stack(tf.split(frames, len(shifts), axis=0)), axis=0)


def _shift_rows(images: tf.Tensor, shift: int) -> tf.Tensor:
    if shift == 0:
        return images
    blank = tf.zeros_like(images[:, : abs(shift)])
    if shift > 0:
        return tf.concat([blank, images[:, :-shift]], axis=1)
    return tf.concat([images[:, -shift:], blank], axis=1)


def predict(model: keras.Model, x: np.ndarray, batch: int = 512) -> np.ndarray:
    """Frame probabilities [n, frames, STRING_CLASSES] of prepared images ``x``, as the served
    graph reads them (:func:`read`)."""
    fn = tf.function(lambda t: read(model, t), reduce_retracing=True)
    parts = [fn(tf.constant(x[i : i + batch])).numpy() for i in range(0, len(x), batch)]
    if not parts:
        return np.zeros((0, x.shape[2] // 4, STRING_CLASSES), np.float32)
    return np.concatenate(parts)
