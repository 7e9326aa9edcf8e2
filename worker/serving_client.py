"""The one client the worker uses to call TF Serving (or our compatible server) over gRPC.

gRPC is not fork-safe, so the channel is created lazily and re-created when the process id
changes; a client built before a fork never shares its channel with the child.
"""

from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass

import grpc
import numpy as np

from contracts.models import DIGIT_INPUT, DIGIT_PROBABILITIES, SIGNATURE_NAME, STRING_CONFIDENCE
from worker.errors import ModelNotFoundError, ModelUnavailableError, PredictionRejectedError
from worker.protos import get_model_status_pb2, model_service_pb2_grpc, predict_pb2, prediction_service_pb2_grpc
from worker.tensors import from_tensor_proto, to_tensor_proto

RETRYABLE = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
MAX_MESSAGE_BYTES = 64 * 1024 * 1024  # a 256-image chunk is 200 KB; leave ample headroom


# TF Serving refuses a request of more rows than its batching's max_batch_size
# (serving/config/batching.config); larger inputs are sent as several requests.
DEFAULT_MAX_ROWS = 1024


@dataclass(frozen=True)
class Prediction:
    """Model output for a batch: probabilities (n, ...), the version that answered and, for the
    string model, its calibrated confidence per row (n,)."""

    probabilities: np.ndarray
    model_version: int
    confidence: np.ndarray | None = None


class ServingClient:
    """Predict and GetModelStatus with deadlines, and retries with backoff on UNAVAILABLE."""

    def __init__(
        self,
        target: str,
        model_name: str,
        timeout: float = 10.0,
        retries: int = 5,
        backoff: float = 0.2,
        max_backoff: float = 5.0,
        version: int | None = None,
        label: str | None = None,
        max_rows: int = DEFAULT_MAX_ROWS,
    ):
        if version is not None and label:
            raise ValueError("pin a version or a label, not both")
        self.max_rows = max_rows
        self.target = target
        self.model_name = model_name
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.version = version
        self.label = label
        self._channel: grpc.Channel | None = None
        self._pid: int | None = None

    def _stubs(self) -> tuple[prediction_service_pb2_grpc.PredictionServiceStub,
                              model_service_pb2_grpc.ModelServiceStub]:
        if self._channel is None or self._pid != os.getpid():
            # After a fork the inherited channel belongs to the parent; never touch it.
            self._channel = grpc.insecure_channel(
                self.target,
                options=[
                    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
                    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                    # Every address the name resolves to takes calls in turn: behind a headless
                    # Service (dns:///serving:8500) a worker spreads over all serving replicas,
                    # where gRPC's default (pick_first) would stick to one.
                    ("grpc.lb_policy_name", "round_robin"),
                ],
            )
            self._pid = os.getpid()
        return (
            prediction_service_pb2_grpc.PredictionServiceStub(self._channel),
            model_service_pb2_grpc.ModelServiceStub(self._channel),
        )

    def close(self) -> None:
        if self._channel is not None and self._pid == os.getpid():
            self._channel.close()
        self._channel = None

    def _fill_spec(self, spec, model: str | None = None, version: int | None = None) -> None:
        spec.name = model or self.model_name
        if version is not None:
            spec.version.value = version
        elif self.label:
            spec.version_label = self.label
        elif self.version is not None and spec.name == self.model_name:
            spec.version.value = self.version

    def predict(self, images: np.ndarray, model: str | None = None, confidence: bool = False) -> Prediction:
        """Run a model (the client's own by default) on ``images``, uint8 rows; ``confidence``
        asks for the string model's ``confidence`` output too.

        Inputs of more than ``max_rows`` rows go as several requests, each pinned to the
        version that answered the first, so that one call's rows never mix two versions.
        """
        images = np.asarray(images, dtype=np.uint8)
        parts = [self._predict(images[: self.max_rows], model, None, confidence)]
        for start in range(self.max_rows, len(images), self.max_rows):
            parts.append(self._predict(images[start : start + self.max_rows], model, parts[0].model_version,
                                       confidence))
        if len(parts) == 1:
            return parts[0]
        return Prediction(np.concatenate([p.probabilities for p in parts]), parts[0].model_version,
                          np.concatenate([p.confidence for p in parts]) if confidence else None)  # type: ignore[misc]

    def _predict(self, images: np.ndarray, model: str | None, version: int | None,
                 confidence: bool) -> Prediction:
        request = predict_pb2.PredictRequest()
        self._fill_spec(request.model_spec, model, version)
        request.model_spec.signature_name = SIGNATURE_NAME
        request.inputs[DIGIT_INPUT].CopyFrom(to_tensor_proto(images))
        request.output_filter.append(DIGIT_PROBABILITIES)
        if confidence:
            request.output_filter.append(STRING_CONFIDENCE)
        predict, _ = self._stubs()
        response = self._call(predict.Predict, request)
        probabilities = from_tensor_proto(response.outputs[DIGIT_PROBABILITIES]).astype(np.float32)
        scores = from_tensor_proto(response.outputs[STRING_CONFIDENCE]).astype(np.float64) if confidence else None
        return Prediction(probabilities, int(response.model_spec.version.value), scores)

    def model_status(self, model: str | None = None) -> list[tuple[int, str]]:
        """(version, state name) for each version the server knows, newest first."""
        request = get_model_status_pb2.GetModelStatusRequest()
        self._fill_spec(request.model_spec, model)
        _, models = self._stubs()
        response = self._call(models.GetModelStatus, request)
        state_name = get_model_status_pb2.ModelVersionStatus.State.Name
        return [(int(s.version), state_name(s.state)) for s in response.model_version_status]

    def _call(self, method, request):
        attempt = 0
        while True:
            try:
                return method(request, timeout=self.timeout)
            except grpc.RpcError as exc:
                code = exc.code()
                if code in RETRYABLE and attempt < self.retries:
                    delay = min(self.max_backoff, self.backoff * 2**attempt)
                    time.sleep(delay * random.uniform(0.5, 1.0))  # jitter spreads out a herd
                    attempt += 1
                    continue
                if code in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.FAILED_PRECONDITION):
                    raise PredictionRejectedError(f"model server rejected the request: {exc.details()}") from exc
                failure = ModelNotFoundError if code == grpc.StatusCode.NOT_FOUND else ModelUnavailableError
                raise failure(
                    f"model server at {self.target} failed: {code.name}: {exc.details()}"
                    + (f" (after {attempt} retries)" if attempt else "")
                ) from exc
