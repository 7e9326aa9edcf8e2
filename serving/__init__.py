"""Model serving: TF Serving config for compose, and a local server speaking TF Serving's gRPC API."""

import os

# TensorFlow's C++ start-up chatter (CUDA probing, CPU features) is noise for operators.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
