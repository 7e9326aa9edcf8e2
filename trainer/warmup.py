"""TF Serving warmup requests: ``assets.extra/tf_serving_warmup_requests``.

A TFRecord file of PredictionLog messages. TF Serving replays them when it loads a version,
so the first real request does not pay for graph tracing; our local server does the same.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

from contracts.models import DIGIT_INPUT, SIGNATURE_NAME

BATCH_SIZES = (1, 32, 256)


def warmup_records(images: np.ndarray, model_name: str, input_name: str = DIGIT_INPUT) -> bytes:
    """Serialised TFRecord bytes with one Predict request per size in ``BATCH_SIZES``, each a
    batch of ``images`` (repeated when there are fewer) as input ``input_name``."""
    path = tf.io.gfile.join("ram://", f"warmup-{np.random.randint(1 << 30)}")
    with tf.io.TFRecordWriter(path) as writer:
        for size in BATCH_SIZES:
            batch = np.resize(images, (size, *images.shape[1:])).astype(np.uint8)
            request = predict_pb2.PredictRequest(
                model_spec=model_pb2.ModelSpec(name=model_name, signature_name=SIGNATURE_NAME))
            request.inputs[input_name].CopyFrom(tf.make_tensor_proto(batch))
            log = prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))
            writer.write(log.SerializeToString())
    with tf.io.gfile.GFile(path, "rb") as handle:
        data = handle.read()
    tf.io.gfile.remove(path)
    return data
