"""Train-time augmentation that mimics what scan preprocessing leaves behind.

A scan goes through crop, 20x20 fit and centre-of-mass placement, so what reaches the model
differs from MNIST by small rotations, scale and shift, by stroke thickness (pen and
resolution), blur (focus, resampling), sensor noise and the wobble of handwriting (elastic
distortion). Each is a Keras layer that acts only in training, so inference is untouched.
Inputs are (batch, 28, 28, 1) in 0..1.
"""

from __future__ import annotations

import math

import keras
import tensorflow as tf
from keras import layers


class _Sometimes(layers.Layer):
    """A layer that changes a share ``rate`` of the images of a batch, in training only."""

    def __init__(self, rate: float, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.rate = rate
        self.seed_gen = keras.random.SeedGenerator(seed)

    def pick(self, x: tf.Tensor) -> tf.Tensor:
        """One uniform draw in [0, 1) per image, shaped to broadcast over it."""
        return keras.random.uniform((tf.shape(x)[0], 1, 1, 1), seed=self.seed_gen)


class RandomStroke(_Sometimes):
    """Thicken (dilate) or thin (erode) strokes by one pixel, each with probability ``rate``."""

    def __init__(self, rate: float = 0.15, seed: int | None = None, **kwargs):
        super().__init__(rate, seed, **kwargs)

    def call(self, x, training=None):
        if not training:
            return x
        dilated = tf.nn.max_pool2d(x, 2, 1, "SAME")
        eroded = -tf.nn.max_pool2d(-x, 2, 1, "SAME")
        pick = self.pick(x)
        return tf.where(pick < self.rate, dilated, tf.where(pick > 1 - self.rate, eroded, x))


class RandomThickPen(_Sometimes):
    """A marker or felt pen: strokes 2-3 px thicker (a 3x3 or 5x5 dilation), on ``rate`` of images.

    After the 20 px normalisation a marker's strokes are far thicker than MNIST's ballpoint ones.
    """

    def __init__(self, rate: float = 0.08, seed: int | None = None, **kwargs):
        super().__init__(rate, seed, **kwargs)

    def call(self, x, training=None):
        if not training:
            return x
        thick = tf.nn.max_pool2d(x, 3, 1, "SAME")
        thicker = tf.nn.max_pool2d(thick, 3, 1, "SAME")
        pick = self.pick(x)
        return tf.where(pick < self.rate / 2, thicker, tf.where(pick < self.rate, thick, x))


class RandomFax(_Sometimes):
    """A low-resolution binarised scan (fax, old copier, 1-bit TIFF) scaled up again.

    On ``rate`` of images: shrink the digit to 9-14 px, threshold it to black and white, and
    enlarge it back, as the scan library does with such a scan's digit: jagged, blocky strokes.
    """

    def __init__(self, rate: float = 0.08, seed: int | None = None, **kwargs):
        super().__init__(rate, seed, **kwargs)

    def call(self, x, training=None):
        if not training:
            return x
        side = tf.cast(keras.random.uniform((), 9.0, 15.0, seed=self.seed_gen), tf.int32)
        small = tf.image.resize(x, tf.stack([side, side]), method="area")
        level = keras.random.uniform((), 0.3, 0.6, seed=self.seed_gen)
        binary = tf.cast(small > level, x.dtype)
        blocky = tf.image.resize(binary, tf.shape(x)[1:3], method="bilinear")
        return tf.where(self.pick(x) < self.rate, blocky, x)


class RandomBlur(_Sometimes):
    """Gaussian blur with sigma up to ``max_sigma`` on a fraction ``rate`` of images."""

    def __init__(self, rate: float = 0.15, max_sigma: float = 0.8, seed: int | None = None, **kwargs):
        super().__init__(rate, seed, **kwargs)
        self.max_sigma = max_sigma

    def call(self, x, training=None):
        if not training:
            return x
        sigma = keras.random.uniform((), 0.3, self.max_sigma, seed=self.seed_gen)
        blurred = _gaussian_blur(x, sigma, radius=2, channels=1)
        return tf.where(self.pick(x) < self.rate, blurred, x)


class RandomAffine(layers.Layer):
    """Rotation up to ``degrees``, scale by up to ``scale`` and shift by up to ``shift`` of the
    side, about the centre, in one bilinear resampling: Keras' three layers would resample (and
    blur) three times, and cost three times as much."""

    def __init__(self, degrees: float = 8.0, scale: float = 0.08, shift: float = 0.06, seed: int | None = None,
                 **kwargs):
        super().__init__(**kwargs)
        self.degrees = degrees
        self.scale = scale
        self.shift = shift
        self.seed_gen = keras.random.SeedGenerator(seed)

    def call(self, x, training=None):
        if not training:
            return x
        batch, height, width = tf.shape(x)[0], tf.shape(x)[1], tf.shape(x)[2]
        size = tf.cast(tf.stack([width, height]), tf.float32)
        angle = keras.random.uniform((batch,), -1.0, 1.0, seed=self.seed_gen) * (self.degrees * math.pi / 180.0)
        zoom = 1.0 + keras.random.uniform((batch,), -self.scale, self.scale, seed=self.seed_gen)
        move = keras.random.uniform((batch, 2), -self.shift, self.shift, seed=self.seed_gen) * size
        # Each output pixel p reads the input at c + R(angle) (p - c) / zoom - move (c: the centre).
        cos, sin = tf.cos(angle) / zoom, tf.sin(angle) / zoom
        cx, cy = (size[0] - 1.0) / 2.0, (size[1] - 1.0) / 2.0
        transforms = tf.stack([cos, -sin, cx - cos * cx + sin * cy - move[:, 0],
                               sin, cos, cy - sin * cx - cos * cy - move[:, 1],
                               tf.zeros_like(cos), tf.zeros_like(cos)], axis=1)
        return tf.raw_ops.ImageProjectiveTransformV3(
            images=x, transforms=transforms, output_shape=tf.stack([height, width]), fill_value=0.0,
            interpolation="BILINEAR", fill_mode="CONSTANT")


class RandomElastic(layers.Layer):
    """Elastic distortion (Simard et al., 2003): a smoothed random displacement field."""

    def __init__(self, alpha: float = 1.0, sigma: float = 4.0, rate: float = 0.5, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.alpha = alpha
        self.sigma = sigma
        self.rate = rate
        self.seed_gen = keras.random.SeedGenerator(seed)

    def call(self, x, training=None):
        if not training:
            return x
        batch, height, width = tf.shape(x)[0], tf.shape(x)[1], tf.shape(x)[2]
        noise = keras.random.uniform((batch, height, width, 2), -1.0, 1.0, seed=self.seed_gen)
        smooth = _gaussian_blur(noise, self.sigma, radius=6, channels=2)
        # Normalise the field so alpha is the typical displacement in pixels.
        smooth /= tf.math.reduce_std(smooth) + 1e-6
        on = tf.cast(keras.random.uniform((batch, 1, 1, 1), seed=self.seed_gen) < self.rate, tf.float32)
        return _warp(x, smooth * self.alpha * on)


def _gaussian_blur(x: tf.Tensor, sigma, radius: int, channels: int) -> tf.Tensor:
    """Separable Gaussian blur of each of ``channels`` channels, ``radius`` taps each side."""
    taps = tf.range(-float(radius), radius + 1.0)
    kernel = tf.exp(-(taps**2) / (2.0 * sigma**2))
    kernel /= tf.reduce_sum(kernel)
    size = 2 * radius + 1
    rows = tf.tile(tf.reshape(kernel, (size, 1, 1, 1)), (1, 1, channels, 1))
    cols = tf.tile(tf.reshape(kernel, (1, size, 1, 1)), (1, 1, channels, 1))
    return tf.nn.depthwise_conv2d(tf.nn.depthwise_conv2d(x, rows, [1] * 4, "SAME"), cols, [1] * 4, "SAME")


def _warp(images: tf.Tensor, flow: tf.Tensor) -> tf.Tensor:
    """Bilinear resampling of ``images`` at (y + dy, x + dx); outside the frame reads 0."""
    batch, height, width = tf.shape(images)[0], tf.shape(images)[1], tf.shape(images)[2]
    ys, xs = tf.meshgrid(tf.range(height, dtype=tf.float32), tf.range(width, dtype=tf.float32), indexing="ij")
    y = ys[None] + flow[..., 0]
    x = xs[None] + flow[..., 1]
    y0, x0 = tf.floor(y), tf.floor(x)
    wy, wx = y - y0, x - x0
    padded = tf.pad(images[..., 0], [[0, 0], [1, 1], [1, 1]])
    flat = tf.reshape(padded, (batch, -1))
    row = width + 2

    def sample(yy, xx):
        yy = tf.clip_by_value(tf.cast(yy, tf.int32) + 1, 0, height + 1)
        xx = tf.clip_by_value(tf.cast(xx, tf.int32) + 1, 0, width + 1)
        return tf.gather(flat, tf.reshape(yy * row + xx, (batch, -1)), batch_dims=1)

    top = sample(y0, x0) * tf.reshape(1 - wx, (batch, -1)) + sample(y0, x0 + 1) * tf.reshape(wx, (batch, -1))
    bottom = sample(y0 + 1, x0) * tf.reshape(1 - wx, (batch, -1)) + sample(y0 + 1, x0 + 1) * tf.reshape(wx, (batch, -1))
    out = top * tf.reshape(1 - wy, (batch, -1)) + bottom * tf.reshape(wy, (batch, -1))
    return tf.reshape(out, (batch, height, width, 1))


def augmentation(seed: int | None = None) -> keras.Sequential:
    """The full train-time pipeline, in the order a scan would suffer it."""
    # Resampling and noise stay in float32 even when the network trains in bfloat16.
    f32 = {"seed": seed, "dtype": "float32"}
    return keras.Sequential(
        [
            RandomElastic(alpha=0.8, rate=0.3, **f32),
            RandomAffine(degrees=8.0, scale=0.08, shift=0.06, **f32),
            RandomStroke(rate=0.1, **f32),
            RandomThickPen(rate=0.08, **f32),
            RandomFax(rate=0.08, **f32),
            RandomBlur(rate=0.1, max_sigma=0.7, **f32),
            layers.GaussianNoise(0.02, **f32),
        ],
        name="augment",
    )
