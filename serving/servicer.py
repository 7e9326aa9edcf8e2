"""gRPC servicers implementing TF Serving's PredictionService and ModelService."""

from __future__ import annotations

import grpc
import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from contracts.models import SIGNATURE_NAME
from serving.batcher import Batcher, BatchQueueFullError, BatchTooLargeError
from serving.model_store import ModelStore, Servable
from serving.registry import ModelRegistry

# TF Serving's kDefaultServingSignatureDefKey: the signature a request gets when it names none.
DEFAULT_SIGNATURE = SIGNATURE_NAME


class RequestError(Exception):
    """A request that maps onto a gRPC status code, as TF Serving would answer it."""

    def __init__(self, code: grpc.StatusCode, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def requested_version(store: ModelStore, spec) -> int | None:
    """The version a ModelSpec pins, by number or by label; None for "latest"."""
    if spec.HasField("version"):
        return spec.version.value
    if spec.version_label:
        if spec.version_label not in store.labels:
            raise RequestError(grpc.StatusCode.INVALID_ARGUMENT,
                               f"Unrecognized servable version label: {spec.version_label}")
        return store.labels[spec.version_label]
    return None


def resolve(registry: ModelRegistry, spec) -> tuple[ModelStore, Servable]:
    """Find the servable a ModelSpec asks for (name, version or label), with TF Serving's codes."""
    store = registry.get(spec.name)
    if store is None:
        raise RequestError(grpc.StatusCode.NOT_FOUND, f"Servable not found for request: Latest({spec.name})")
    return store, _servable(store, spec)


def _servable(store: ModelStore, spec) -> Servable:
    version = requested_version(store, spec)
    if version is None:
        servable = store.latest()
        if servable is None:
            # TF Serving answers NOT_FOUND for a model with no AVAILABLE version; at start it does
            # not even listen until every model has loaded. We listen once the versions on disk
            # are loaded, so UNAVAILABLE (retry) only while one is still loading.
            code = grpc.StatusCode.UNAVAILABLE if store.is_loading() else grpc.StatusCode.NOT_FOUND
            raise RequestError(code, f"Servable not found for request: Latest({spec.name}): no version is available")
        return servable
    servable = store.get(version)
    if servable is None:
        if store.is_loading(version):
            raise RequestError(grpc.StatusCode.UNAVAILABLE, f"Specific({spec.name}, {version}) is loading")
        raise RequestError(grpc.StatusCode.NOT_FOUND,
                           f"Servable not found for request: Specific({spec.name}, {version})")
    return servable


def run_predict(registry: ModelRegistry, batcher: Batcher | None, request) -> predict_pb2.PredictResponse:
    """Validate and run one PredictRequest."""
    store, servable = resolve(registry, request.model_spec)
    signature_name = request.model_spec.signature_name or DEFAULT_SIGNATURE
    fn = servable.signature(signature_name)
    if fn is None:
        raise RequestError(grpc.StatusCode.INVALID_ARGUMENT,
                           f'Serving signature name: "{signature_name}" not found in signature def')
    specs = fn.structured_input_signature[1]
    missing = sorted(set(specs) - set(request.inputs))
    extra = sorted(set(request.inputs) - set(specs))
    if missing or extra:
        raise RequestError(grpc.StatusCode.INVALID_ARGUMENT,
                           f"input keys do not match the signature: missing {missing}, unexpected {extra}")
    feeds = {name: _to_array(name, request.inputs[name], spec) for name, spec in specs.items()}
    wanted = list(request.output_filter) or list(fn.structured_outputs)
    unknown = [name for name in wanted if name not in fn.structured_outputs]
    if unknown:
        raise RequestError(grpc.StatusCode.INVALID_ARGUMENT,
                           f"output tensor alias not found in signature: {unknown[0]}")

    def run(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        outputs = fn(**{name: tf.constant(value) for name, value in batch.items()})
        return {name: outputs[name].numpy() for name in outputs}

    rows = {value.shape[0] if value.ndim else -1 for value in feeds.values()}
    if batcher is not None and len(rows) == 1 and -1 not in rows:
        key = (store.name, servable.version, signature_name,
               tuple((n, v.shape[1:], v.dtype.str) for n, v in sorted(feeds.items())))
        try:
            outputs = batcher.submit(key, run, feeds)
        except BatchQueueFullError as exc:
            raise RequestError(grpc.StatusCode.UNAVAILABLE, str(exc)) from exc
        except BatchTooLargeError as exc:
            raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, str(exc)) from exc
    else:
        outputs = run(feeds)
    response = predict_pb2.PredictResponse()
    response.model_spec.name = store.name
    response.model_spec.version.value = servable.version
    response.model_spec.signature_name = signature_name
    for name in wanted:
        response.outputs[name].CopyFrom(tf.make_tensor_proto(outputs[name]))
    return response


def _to_array(name: str, proto, spec: tf.TensorSpec) -> np.ndarray:
    if proto.dtype != spec.dtype.as_datatype_enum:
        got = tf.dtypes.as_dtype(proto.dtype).name if proto.dtype else "invalid"
        raise RequestError(grpc.StatusCode.INVALID_ARGUMENT,
                           f"Expects arg[{name}] to be {spec.dtype.name} but {got} is provided")
    try:
        array = tf.make_ndarray(proto)
    except Exception as exc:  # noqa: BLE001 - any parse failure is the client's fault
        raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, f"input {name}: cannot parse tensor: {exc}") from exc
    if not spec.shape.is_compatible_with(array.shape):
        raise RequestError(grpc.StatusCode.INVALID_ARGUMENT,
                           f"input {name}: shape {list(array.shape)} does not match the signature's {spec.shape}")
    return np.ascontiguousarray(array)


def _abort(context, exc: RequestError):
    context.abort(exc.code, exc.message)


class PredictionServicer(prediction_service_pb2_grpc.PredictionServiceServicer):
    """Predict and GetModelMetadata."""

    def __init__(self, registry: ModelRegistry, batcher: Batcher | None = None):
        self.registry = registry
        self.batcher = batcher

    def Predict(self, request, context):  # noqa: N802 - gRPC method name
        try:
            return run_predict(self.registry, self.batcher, request)
        except RequestError as exc:
            _abort(context, exc)

    def GetModelMetadata(self, request, context):  # noqa: N802
        try:
            store, servable = resolve(self.registry, request.model_spec)
        except RequestError as exc:
            _abort(context, exc)
        if list(request.metadata_field) != ["signature_def"]:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "Metadata field must be signature_def")
        signature_map = get_model_metadata_pb2.SignatureDefMap()
        for name, sig in servable.signature_defs.items():
            signature_map.signature_def[name].CopyFrom(sig)
        response = get_model_metadata_pb2.GetModelMetadataResponse()
        response.model_spec.name = store.name
        response.model_spec.version.value = servable.version
        response.metadata["signature_def"].Pack(signature_map)
        return response


def model_status(registry: ModelRegistry, spec) -> get_model_status_pb2.GetModelStatusResponse:
    """Version states for a ModelSpec, as TF Serving reports them; raises RequestError."""
    store = registry.get(spec.name)
    if store is None:
        raise RequestError(grpc.StatusCode.NOT_FOUND, f"Could not find any versions of model {spec.name}")
    states = store.states()
    version = requested_version(store, spec)
    if version is not None:
        if version not in states:
            raise RequestError(grpc.StatusCode.NOT_FOUND, f"Could not find version {version} of model {spec.name}")
        states = {version: states[version]}
    if not states:
        raise RequestError(grpc.StatusCode.NOT_FOUND, f"Could not find any versions of model {spec.name}")
    response = get_model_status_pb2.GetModelStatusResponse()
    for number in sorted(states, reverse=True):
        entry = response.model_version_status.add()
        entry.version = number
        entry.state = states[number].state
        if states[number].error:
            entry.status.error_code = grpc.StatusCode.UNKNOWN.value[0]
            entry.status.error_message = states[number].error
    return response


class ModelServicer(model_service_pb2_grpc.ModelServiceServicer):
    """GetModelStatus, reporting version states as TF Serving does."""

    def __init__(self, registry: ModelRegistry):
        self.registry = registry

    def GetModelStatus(self, request, context):  # noqa: N802
        try:
            return model_status(self.registry, request.model_spec)
        except RequestError as exc:
            _abort(context, exc)
