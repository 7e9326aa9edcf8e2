"""TF Serving's message and service definitions, without importing TensorFlow itself.

``tensorflow_serving.apis`` imports generated modules under ``tensorflow.core``; importing
them the normal way runs ``tensorflow/__init__`` and costs ~600 MB and 3 s per worker. The
generated modules only need protobuf, so when TensorFlow is not already loaded we import them
through a bare package object and then drop it, leaving a later ``import tensorflow`` intact.
"""

from __future__ import annotations

import importlib.util
import sys
import types


def _import_apis() -> None:
    if "tensorflow" in sys.modules:
        return
    spec = importlib.util.find_spec("tensorflow")
    if spec is None or not spec.submodule_search_locations:
        return
    bare = types.ModuleType("tensorflow")
    bare.__path__ = list(spec.submodule_search_locations)
    sys.modules["tensorflow"] = bare
    try:
        import tensorflow_serving.apis.get_model_metadata_pb2  # noqa: F401
        import tensorflow_serving.apis.get_model_status_pb2  # noqa: F401
        import tensorflow_serving.apis.model_service_pb2_grpc  # noqa: F401
        import tensorflow_serving.apis.predict_pb2  # noqa: F401
        import tensorflow_serving.apis.prediction_service_pb2_grpc  # noqa: F401
    finally:
        if sys.modules.get("tensorflow") is bare:
            del sys.modules["tensorflow"]


_import_apis()

from tensorflow.core.framework import tensor_pb2, types_pb2  # noqa: E402
from tensorflow_serving.apis import (  # noqa: E402
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

__all__ = [
    "get_model_metadata_pb2",
    "get_model_status_pb2",
    "model_service_pb2_grpc",
    "predict_pb2",
    "prediction_service_pb2_grpc",
    "tensor_pb2",
    "types_pb2",
]
