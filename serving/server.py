"""Build and run the local TF-Serving-compatible server: gRPC, plus REST model status."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass
from http.server import ThreadingHTTPServer

import grpc
from tensorflow_serving.apis import model_service_pb2_grpc, prediction_service_pb2_grpc

from serving.batcher import Batcher
from serving.config_file import ModelConfig, read_batching_config, read_server_config
from serving.precision import use_precision
from serving.registry import ModelRegistry
from serving.rest import start_rest_server
from serving.servicer import ModelServicer, PredictionServicer
from serving.settings import MAX_MESSAGE_BYTES, ServingSettings

log = logging.getLogger(__name__)


@dataclass
class RunningServer:
    """A started server; ports are the bound ones (useful when 0 was asked for)."""

    grpc_server: grpc.Server
    rest_server: ThreadingHTTPServer
    registry: ModelRegistry
    batcher: Batcher | None
    port: int
    rest_port: int
    stop_event: threading.Event

    def stop(self, grace: float = 2.0) -> None:
        self.stop_event.set()
        self.rest_server.shutdown()
        self.grpc_server.stop(grace).wait()
        if self.batcher is not None:
            self.batcher.stop()

    def wait(self) -> None:
        self.grpc_server.wait_for_termination()


def start_server(settings: ServingSettings) -> RunningServer:
    """Load the model versions the policies want, start polling and serve."""
    registry = ModelRegistry(settings.model_base, _initial_config(settings))
    use_precision(settings.precision)
    registry.poll()
    batcher = Batcher(read_batching_config(settings.batching)) if settings.batching else None
    options = [
        # Without this, a second server on the same port binds silently and steals requests.
        ("grpc.so_reuseport", 0),
        ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ]
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=settings.threads), options=options)
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(PredictionServicer(registry, batcher), server)
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(ModelServicer(registry), server)
    port = server.add_insecure_port(f"{settings.host}:{settings.grpc_port}")
    if port == 0:
        raise OSError(f"cannot bind gRPC port {settings.host}:{settings.grpc_port}")
    rest = start_rest_server(registry, settings.host, settings.rest_port)
    server.start()
    stop = threading.Event()
    _every(settings.poll_seconds, registry.poll, "model-poller", stop)
    if settings.model_config_file and settings.model_config_poll_seconds:
        # TF Serving's --model_config_file_poll_wait_seconds: labels and policies follow the file.
        _every(settings.model_config_poll_seconds, lambda: registry.reload_from(settings.model_config_file),
               "config-poller", stop)
    log.info("serving models %s from %s in %s: gRPC %s:%d, REST %s:%d", registry.names(),
             settings.model_base, settings.precision, settings.host, port, settings.host, rest.server_address[1])
    return RunningServer(server, rest, registry, batcher, port, rest.server_address[1], stop)


def _initial_config(settings: ServingSettings) -> list[ModelConfig]:
    if settings.model_config_file:
        return read_server_config(settings.model_config_file)
    # Without a config file, as TF Serving with --model_name: the latest version of each model.
    return [ModelConfig(name) for name in settings.models]


def _every(seconds: float, work: Callable[[], object], name: str, stop: threading.Event) -> threading.Thread:
    """Run ``work`` every ``seconds`` on a daemon thread until ``stop`` is set."""

    def loop() -> None:
        while not stop.wait(seconds):
            try:
                work()
            except Exception:  # noqa: BLE001 - keep polling whatever one pass hit
                log.exception("%s failed", name)

    thread = threading.Thread(target=loop, name=name, daemon=True)
    thread.start()
    return thread
