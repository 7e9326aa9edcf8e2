"""Build and run the local TF-Serving-compatible server: gRPC, plus REST model status."""

from __future__ import annotations

import logging
import threading
from concurrent import futures
from dataclasses import dataclass
from http.server import ThreadingHTTPServer

import grpc
from tensorflow_serving.apis import model_service_pb2_grpc, prediction_service_pb2_grpc

from serving.batcher import Batcher
from serving.config_file import ModelConfig, read_batching_config, read_model_config
from serving.model_store import ModelStore
from serving.precision import use_precision
from serving.rest import start_rest_server
from serving.servicer import ModelServicer, PredictionServicer
from serving.settings import MAX_MESSAGE_BYTES, ServingSettings

log = logging.getLogger(__name__)


@dataclass
class RunningServer:
    """A started server; ports are the bound ones (useful when 0 was asked for)."""

    grpc_server: grpc.Server
    rest_server: ThreadingHTTPServer
    store: ModelStore
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
    """Load the model versions the policy wants, start polling and serve."""
    config = (read_model_config(settings.model_config_file, settings.model_name)
              if settings.model_config_file else ModelConfig(settings.model_name))
    store = ModelStore(base=settings.model_base, name=settings.model_name,
                       policy=config.policy, labels=config.labels)
    use_precision(settings.precision)
    store.poll()
    batcher = Batcher(read_batching_config(settings.batching)) if settings.batching else None
    options = [
        # Without this, a second server on the same port binds silently and steals requests.
        ("grpc.so_reuseport", 0),
        ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ]
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=settings.threads), options=options)
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(PredictionServicer(store, batcher), server)
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(ModelServicer(store), server)
    port = server.add_insecure_port(f"{settings.host}:{settings.grpc_port}")
    if port == 0:
        raise OSError(f"cannot bind gRPC port {settings.host}:{settings.grpc_port}")
    rest = start_rest_server(store, settings.host, settings.rest_port)
    server.start()
    stop = threading.Event()
    store.run_poller(settings.poll_seconds, stop)
    log.info("serving model %r from %s in %s: gRPC %s:%d, REST %s:%d", settings.model_name,
             settings.model_base, settings.precision, settings.host, port, settings.host, rest.server_address[1])
    return RunningServer(server, rest, store, batcher, port, rest.server_address[1], stop)
