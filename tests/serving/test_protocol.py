"""The model server at the protocol level, with TF Serving's own stubs and messages.

Ours by default; any TF Serving endpoint with DIGITS_CONFORMANCE_TARGET (see conftest.py).
Nothing here assumes which version is served: it is read from the server's status.
"""

import json
import urllib.request

import grpc
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)


@pytest.fixture(scope="module")
def channel(endpoint):
    with grpc.insecure_channel(endpoint.target) as ch:
        yield ch


@pytest.fixture(scope="module")
def served_version(channel) -> int:
    """The version unpinned requests get: the newest AVAILABLE one."""
    stub = model_service_pb2_grpc.ModelServiceStub(channel)
    request = get_model_status_pb2.GetModelStatusRequest()
    request.model_spec.name = "digits"
    response = stub.GetModelStatus(request, timeout=10)
    return max(s.version for s in response.model_version_status
               if s.state == get_model_status_pb2.ModelVersionStatus.AVAILABLE)


def _request(images, name="digits", version=None, signature="serving_default"):
    request = predict_pb2.PredictRequest()
    request.model_spec.name = name
    request.model_spec.signature_name = signature
    if version is not None:
        request.model_spec.version.value = version
    request.inputs["images"].CopyFrom(tf.make_tensor_proto(images))
    return request


def test_predict_returns_probabilities_classes_and_version(channel, served_version, mnist):
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    response = stub.Predict(_request(mnist.x_test[:16]), timeout=10)
    probs = tf.make_ndarray(response.outputs["probabilities"])
    classes = tf.make_ndarray(response.outputs["classes"])
    assert probs.shape == (16, 10) and classes.shape == (16,)
    np.testing.assert_array_equal(probs.argmax(axis=1), classes)
    assert response.model_spec.version.value == served_version
    assert response.model_spec.signature_name == "serving_default"
    assert np.mean(classes == mnist.y_test[:16]) >= 0.75


def test_output_filter_limits_outputs(channel, mnist):
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    request = _request(mnist.x_test[:2])
    request.output_filter.append("classes")
    assert list(stub.Predict(request, timeout=10).outputs) == ["classes"]


@pytest.mark.parametrize(
    ("request_factory", "code"),
    [
        (lambda x: _request(x, name="nope"), grpc.StatusCode.NOT_FOUND),
        (lambda x: _request(x, version=99), grpc.StatusCode.NOT_FOUND),
        (lambda x: _request(x.astype(np.float32)), grpc.StatusCode.INVALID_ARGUMENT),
        (lambda x: _request(x[:, :14, :]), grpc.StatusCode.INVALID_ARGUMENT),
        (lambda x: _request(x, signature="other"), grpc.StatusCode.INVALID_ARGUMENT),
    ],
    ids=["unknown-model", "unknown-version", "wrong-dtype", "wrong-shape", "unknown-signature"],
)
def test_errors_use_tf_serving_status_codes(channel, mnist, request_factory, code):
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    with pytest.raises(grpc.RpcError) as info:
        stub.Predict(request_factory(mnist.x_test[:2]), timeout=10)
    assert info.value.code() == code


def test_model_metadata_returns_the_signature_def(channel, served_version):
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    request = get_model_metadata_pb2.GetModelMetadataRequest()
    request.model_spec.name = "digits"
    request.metadata_field.append("signature_def")
    response = stub.GetModelMetadata(request, timeout=10)
    signatures = get_model_metadata_pb2.SignatureDefMap()
    response.metadata["signature_def"].Unpack(signatures)
    sig = signatures.signature_def["serving_default"]
    assert sig.inputs["images"].dtype == tf.uint8.as_datatype_enum
    assert [d.size for d in sig.inputs["images"].tensor_shape.dim] == [-1, 28, 28]
    assert set(sig.outputs) == {"probabilities", "classes"}
    assert response.model_spec.version.value == served_version


def test_model_status_reports_available(channel, served_version):
    stub = model_service_pb2_grpc.ModelServiceStub(channel)
    request = get_model_status_pb2.GetModelStatusRequest()
    request.model_spec.name = "digits"
    request.model_spec.version.value = served_version
    response = stub.GetModelStatus(request, timeout=10)
    (status,) = response.model_version_status
    assert status.version == served_version
    assert status.state == get_model_status_pb2.ModelVersionStatus.AVAILABLE
    assert status.status.error_code == 0


def test_rest_status_answers_as_tf_serving(endpoint, served_version):
    with urllib.request.urlopen(f"{endpoint.rest_url}/v1/models/digits/versions/{served_version}", timeout=10) as r:
        body = json.loads(r.read())
    assert body == {"model_version_status": [{"version": str(served_version), "state": "AVAILABLE",
                                              "status": {"error_code": "OK", "error_message": ""}}]}


def test_model_status_of_unknown_model_is_not_found(channel):
    stub = model_service_pb2_grpc.ModelServiceStub(channel)
    request = get_model_status_pb2.GetModelStatusRequest()
    request.model_spec.name = "nope"
    with pytest.raises(grpc.RpcError) as info:
        stub.GetModelStatus(request, timeout=10)
    assert info.value.code() == grpc.StatusCode.NOT_FOUND


def test_requests_over_the_shipped_max_batch_size_are_refused_and_the_worker_splits(channel, endpoint, mnist):
    """batching.config's max_batch_size is TF Serving's input_batch_size_limit: a larger
    request is INVALID_ARGUMENT there, so it is here; the worker's client never sends one."""
    from serving.config_file import read_batching_config
    from serving.settings import CONFIG_DIR
    from worker.serving_client import ServingClient

    limit = read_batching_config(CONFIG_DIR / "batching.config").max_batch_size
    images = np.resize(mnist.x_test[:100], (limit + 1, 28, 28))
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    with pytest.raises(grpc.RpcError) as info:
        stub.Predict(_request(images), timeout=30)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert f"larger than maximum input batch size {limit}" in info.value.details()
    client = ServingClient(endpoint.target, "digits", timeout=30, retries=0, max_rows=limit)
    many = np.resize(mnist.x_test[:100], (2 * limit + 50, 28, 28))
    probabilities = client.predict(many).probabilities
    assert probabilities.shape == (len(many), 10)
    around = slice(limit - 5, limit + 5)  # rows either side of the first split
    np.testing.assert_allclose(probabilities[around], client.predict(many[around]).probabilities, atol=1e-3)
