"""The CNN. Normalisation lives inside the model so that no client can skew it."""

from __future__ import annotations

import keras
from keras import layers

from contracts.models import DIGIT_INPUT
from trainer.augment import augmentation
from trainer.layers import FusedBatchNorm


def build_model(width: int = 32, dense: int = 128, seed: int | None = None, augment: bool = False) -> keras.Model:
    """A VGG-style CNN on 28x28 inputs in MNIST's 0..255 scale; outputs 10 float32 logits.

    ``width`` is the number of filters in the first block; tests use a narrow model.
    ``augment`` adds the train-time scan augmentation (inactive at inference).
    The convolutions follow Keras' global dtype policy (the trainer may pick mixed bfloat16);
    scaling, augmentation and the logits stay float32 whatever the policy.
    """
    init = keras.initializers.HeNormal(seed=seed)
    inputs = keras.Input(shape=(28, 28), dtype="float32", name=DIGIT_INPUT)
    x = layers.Reshape((28, 28, 1), dtype="float32")(inputs)
    x = layers.Rescaling(1.0 / 255.0, dtype="float32")(x)
    if augment:
        x = augmentation(seed)(x)
    # Augmentation already regularises; full dropout on top of it underfits in our budget.
    conv_drop, dense_drop = (0.15, 0.3) if augment else (0.25, 0.4)
    for filters in (width, width * 2):
        for _ in range(2):
            x = layers.Conv2D(filters, 3, padding="same", use_bias=False, kernel_initializer=init)(x)
            x = FusedBatchNorm()(x)
            x = layers.Activation("relu")(x)
        x = layers.MaxPooling2D()(x)
        x = layers.Dropout(conv_drop, seed=seed)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(dense, use_bias=False, kernel_initializer=init)(x)
    x = FusedBatchNorm()(x)
    x = layers.Activation("relu")(x)
    x = layers.Dropout(dense_drop, seed=seed)(x)
    logits = layers.Dense(10, name="logits", dtype="float32")(x)
    return keras.Model(inputs, logits, name="digits_cnn")
