"""The server's arithmetic: bfloat16 where the CPU has it, the same answers as float32."""

import grpc
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from core.settings import InvalidSettingError
from serving.precision import resolve_precision
from serving.settings import ServingSettings


@pytest.mark.parametrize(("flags", "setting", "expected"), [
    ("fpu avx2 avx512f avx512_bf16 fma", "auto", "bfloat16"),
    ("fpu avx2 amx_bf16 amx_tile", "auto", "bfloat16"),
    ("fpu avx2 avx512f fma", "auto", "float32"),
    ("fpu avx2 amx_bf16", "float32", "float32"),
    ("fpu avx2", "bfloat16", "bfloat16"),
])
def test_auto_picks_bfloat16_only_where_the_cpu_has_it(tmp_path, flags, setting, expected):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nflags\t\t: {flags}\n")
    assert resolve_precision(setting, str(cpuinfo)) == expected


def test_an_unknown_precision_names_the_setting():
    with pytest.raises(InvalidSettingError, match="DIGITS_SERVING_PRECISION"):
        ServingSettings.from_env({"DIGITS_SERVING_PRECISION": "fp8"})
    assert ServingSettings.from_env({"DIGITS_SERVING_PRECISION": "Float32"}).precision == "float32"


def test_the_server_answers_like_the_float32_model(model_server, model_base, mnist):
    """The test server resolves its precision from this environment; this process computes in float32."""
    images = mnist.x_test[:512]
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "digits"
    request.inputs["images"].CopyFrom(tf.make_tensor_proto(images))
    with grpc.insecure_channel(model_server) as channel:
        response = prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(request, timeout=30)
    served = tf.make_ndarray(response.outputs["probabilities"])
    fn = tf.saved_model.load(str(model_base / "digits" / "1")).signatures["serving_default"]
    reference = fn(images=tf.constant(images))["probabilities"].numpy()
    assert np.mean(served.argmax(axis=1) == reference.argmax(axis=1)) >= 0.99
    assert np.abs(served - reference).max() < 0.05
    if ServingSettings.from_env().precision == "bfloat16":
        # Bit-identical answers would mean the bfloat16 rewrite did not run.
        assert not np.array_equal(served, reference)
    else:
        np.testing.assert_allclose(served, reference, atol=1e-5)
