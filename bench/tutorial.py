"""The tutorials' way of reading an image: resize the whole thing to 28x28 and invert it.

This is the baseline the scan benchmarks measure against, in the same run.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image


def tutorial_preprocess(data: bytes) -> np.ndarray:
    """One (28, 28) uint8 array, as in the Keras/TensorFlow MNIST tutorials' inference examples."""
    image = Image.open(io.BytesIO(data)).convert("L").resize((28, 28))
    return 255 - np.asarray(image, dtype=np.uint8)
