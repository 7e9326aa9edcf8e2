"""Build and run the local TF-Serving-compatible gRPC server."""

from __future__ import annotations

import logging
import threading
from concurrent import futures
from dataclasses import dataclass

import grpc

from serving.model_store import ModelStore
from serving.servicer import ModelServicer, PredictionServicer
from serving.settings import ServingSettings
from tensorflow_serving.apis import model_service_pb2_grpc, prediction_service_pb2_grpc

log = logging.getLogger(__name__)


@dataclass
class RunningServer:
    """A started server; ``port`` is the bound gRPC port (useful when 0 was asked for)."""

    grpc_server: grpc.Server
    store: ModelStore
    port: int
    stop_event: threading.Event

    def stop(self, grace: float = 2.0) -> None:
        self.stop_event.set()
        self.grpc_server.stop(grace).wait()

    def wait(self) -> None:
        self.grpc_server.wait_for_termination()


def start_server(settings: ServingSettings) -> RunningServer:
    """Load the newest model version (if any), start polling and serve gRPC."""
    store = ModelStore(base=settings.model_base, name=settings.model_name)
    store.poll()
    options = [
        ("grpc.max_send_message_length", settings.max_message_bytes),
        ("grpc.max_receive_message_length", settings.max_message_bytes),
    ]
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=settings.threads), options=options)
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(PredictionServicer(store), server)
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(ModelServicer(store), server)
    port = server.add_insecure_port(f"{settings.host}:{settings.grpc_port}")
    if port == 0:
        raise OSError(f"cannot bind gRPC port {settings.host}:{settings.grpc_port}")
    server.start()
    stop = threading.Event()
    store.run_poller(settings.poll_seconds, stop)
    log.info("serving model %r from %s on %s:%d", settings.model_name, settings.model_base, settings.host, port)
    return RunningServer(server, store, port, stop)
