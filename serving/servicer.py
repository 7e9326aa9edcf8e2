"""gRPC servicers implementing TF Serving's PredictionService and ModelService."""

from __future__ import annotations

import grpc
import numpy as np
import tensorflow as tf

from serving.model_store import ModelStore, Servable, State
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

DEFAULT_SIGNATURE = "serving_default"


class RequestError(Exception):
    """A request that maps onto a gRPC status code, as TF Serving would answer it."""

    def __init__(self, code: grpc.StatusCode, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def resolve(store: ModelStore, spec) -> Servable:
    """Find the servable a ModelSpec asks for, with TF Serving's error codes."""
    if spec.name != store.name:
        raise RequestError(grpc.StatusCode.NOT_FOUND, f"Servable not found for request: {_describe(spec)}")
    if spec.HasField("version"):
        servable = store.get(spec.version.value)
        if servable is None:
            if store.states().get(spec.version.value, None) is not None and store.is_loading():
                raise RequestError(grpc.StatusCode.UNAVAILABLE, f"{_describe(spec)} is loading")
            raise RequestError(grpc.StatusCode.NOT_FOUND, f"Servable not found for request: {_describe(spec)}")
        return servable
    if spec.version_label:
        raise RequestError(grpc.StatusCode.NOT_FOUND, f"Unrecognized servable version label: {spec.version_label}")
    servable = store.latest()
    if servable is None:
        raise RequestError(grpc.StatusCode.UNAVAILABLE, f"{_describe(spec)}: no version is available yet")
    return servable


def _describe(spec) -> str:
    if spec.HasField("version"):
        return f"Specific({spec.name}, {spec.version.value})"
    return f"Latest({spec.name})"


def run_predict(store: ModelStore, request: predict_pb2.PredictRequest) -> predict_pb2.PredictResponse:
    """Validate and run one PredictRequest."""
    servable = resolve(store, request.model_spec)
    signature_name = request.model_spec.signature_name or DEFAULT_SIGNATURE
    fn = servable.signature(signature_name)
    if fn is None:
        raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, f"Serving signature name: \"{signature_name}\" not found in signature def")
    specs = fn.structured_input_signature[1]
    missing = sorted(set(specs) - set(request.inputs))
    extra = sorted(set(request.inputs) - set(specs))
    if missing or extra:
        raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, f"input keys do not match the signature: missing {missing}, unexpected {extra}; expected {sorted(specs)}")
    feeds = {name: _to_tensor(name, request.inputs[name], spec) for name, spec in specs.items()}
    outputs = fn(**feeds)
    wanted = list(request.output_filter) or list(outputs)
    unknown = [name for name in wanted if name not in outputs]
    if unknown:
        raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, f"output tensor alias not found in signature: {unknown[0]}")
    response = predict_pb2.PredictResponse()
    response.model_spec.name = store.name
    response.model_spec.version.value = servable.version
    response.model_spec.signature_name = signature_name
    for name in wanted:
        response.outputs[name].CopyFrom(tf.make_tensor_proto(outputs[name].numpy()))
    return response


def _to_tensor(name: str, proto, spec: tf.TensorSpec) -> tf.Tensor:
    if proto.dtype != spec.dtype.as_datatype_enum:
        got = tf.dtypes.as_dtype(proto.dtype).name if proto.dtype else "invalid"
        raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, f"Expects arg[{name}] to be {spec.dtype.name} but {got} is provided")
    try:
        array = tf.make_ndarray(proto)
    except Exception as exc:  # noqa: BLE001 - any parse failure is the client's fault
        raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, f"input {name}: cannot parse tensor: {exc}") from exc
    if not spec.shape.is_compatible_with(array.shape):
        raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, f"input {name}: shape {list(array.shape)} does not match the signature's {spec.shape}")
    return tf.constant(np.ascontiguousarray(array))


class PredictionServicer(prediction_service_pb2_grpc.PredictionServiceServicer):
    """Predict and GetModelMetadata."""

    def __init__(self, store: ModelStore):
        self.store = store

    def Predict(self, request, context):  # noqa: N802 - gRPC method name
        try:
            return run_predict(self.store, request)
        except RequestError as exc:
            context.abort(exc.code, exc.message)

    def GetModelMetadata(self, request, context):  # noqa: N802
        try:
            servable = resolve(self.store, request.model_spec)
        except RequestError as exc:
            context.abort(exc.code, exc.message)
        fields = list(request.metadata_field)
        if fields != ["signature_def"]:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "Metadata field must be signature_def")
        signature_map = get_model_metadata_pb2.SignatureDefMap()
        for name, sig in servable.signature_defs.items():
            signature_map.signature_def[name].CopyFrom(sig)
        response = get_model_metadata_pb2.GetModelMetadataResponse()
        response.model_spec.name = self.store.name
        response.model_spec.version.value = servable.version
        response.metadata["signature_def"].Pack(signature_map)
        return response


class ModelServicer(model_service_pb2_grpc.ModelServiceServicer):
    """GetModelStatus, reporting version states as TF Serving does."""

    def __init__(self, store: ModelStore):
        self.store = store

    def GetModelStatus(self, request, context):  # noqa: N802
        spec = request.model_spec
        if spec.name != self.store.name:
            context.abort(grpc.StatusCode.NOT_FOUND, f"Could not find any versions of model {spec.name}")
        states = self.store.states()
        if spec.HasField("version"):
            if spec.version.value not in states:
                context.abort(grpc.StatusCode.NOT_FOUND, f"Could not find version {spec.version.value} of model {spec.name}")
            states = {spec.version.value: states[spec.version.value]}
        if not states:
            context.abort(grpc.StatusCode.NOT_FOUND, f"Could not find any versions of model {spec.name}")
        response = get_model_status_pb2.GetModelStatusResponse()
        for version in sorted(states, reverse=True):
            entry = response.model_version_status.add()
            entry.version = version
            entry.state = states[version].state
            if states[version].error:
                entry.status.error_code = grpc.StatusCode.UNKNOWN.value[0]
                entry.status.error_message = states[version].error
        return response
