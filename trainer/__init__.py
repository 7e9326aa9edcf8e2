"""Trainer: MNIST -> Keras CNN -> versioned TensorFlow SavedModel, exported atomically."""

import os

# TensorFlow's C++ start-up chatter (CUDA probing, CPU features) is noise for operators.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
