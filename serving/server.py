"""A gRPC server speaking TF Serving's PredictionService and ModelService over a VersionManager.

A client written from `tensorflow_serving/apis/*.proto` cannot tell it from TF Serving for
Predict, Classify, GetModelMetadata, GetModelStatus and HandleReloadConfigRequest; Regress
and MultiInference answer UNIMPLEMENTED (bcpipe's models are classifiers).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent import futures
from typing import TypeVar

import grpc
from tensorflow_serving.apis import (
    model_management_pb2,
    model_service_pb2_grpc,
    prediction_service_pb2_grpc,
)

from pipeline.config import SERVING, Serving
from serving.status import ServingError, invalid_argument
from serving.version_manager import VersionManager

log = logging.getLogger(__name__)

Response = TypeVar("Response")


def _answer(context: grpc.ServicerContext, request, work: Callable[[], Response]) -> Response:
    """Runs one request; every failure becomes a status, none reaches the server."""
    try:
        if not request.HasField("model_spec"):
            raise invalid_argument("Missing ModelSpec")
        return work()
    except ServingError as err:
        code, message = err.code, err.message
    except Exception as err:  # a request must never take the server down
        log.exception("request failed")
        code, message = grpc.StatusCode.INTERNAL, f"{type(err).__name__}: {err}"
    context.abort(code, message)


class PredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(self, store: VersionManager):
        self._store = store

    def Predict(self, request, context):
        return _answer(
            context, request, lambda: self._store.servable(request.model_spec).predict(request)
        )

    def Classify(self, request, context):
        return _answer(
            context, request, lambda: self._store.servable(request.model_spec).classify(request)
        )

    def GetModelMetadata(self, request, context):
        return _answer(
            context, request, lambda: self._store.servable(request.model_spec).metadata(request)
        )


class ModelService(model_service_pb2_grpc.ModelServiceServicer):
    def __init__(self, store: VersionManager):
        self._store = store

    def GetModelStatus(self, request, context):
        return _answer(context, request, lambda: self._store.status(request.model_spec))

    def HandleReloadConfigRequest(self, request, context):
        try:
            self._store.reload_config(request.config)
        except ServingError as err:
            context.abort(err.code, err.message)
        return model_management_pb2.ReloadConfigResponse()


class ModelServer:
    """The gRPC server around a store: `start()`, then `stop()` (graceful) when done."""

    def __init__(
        self,
        store: VersionManager,
        *,
        host: str = "0.0.0.0",
        port: int = SERVING.port,
        tls: tuple[bytes, bytes] | None = None,
        settings: Serving = SERVING,
    ):
        self.store = store
        self.host = host
        self.port = port
        self._tls = tls
        self._settings = settings
        self._server: grpc.Server | None = None

    def start(self) -> int:
        """Starts answering; returns the bound port (the OS picks one for port 0)."""
        limit = self._settings.max_message_bytes
        server = grpc.server(
            futures.ThreadPoolExecutor(
                max_workers=self._settings.server_threads, thread_name_prefix="grpc"
            ),
            options=[
                ("grpc.max_send_message_length", limit),
                ("grpc.max_receive_message_length", limit),
                # Two servers must never share a port silently.
                ("grpc.so_reuseport", 0),
            ],
        )
        prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
            PredictionService(self.store), server
        )
        model_service_pb2_grpc.add_ModelServiceServicer_to_server(ModelService(self.store), server)
        address = f"{self.host}:{self.port}"
        if self._tls is None:
            bound = server.add_insecure_port(address)
        else:
            key, cert = self._tls
            bound = server.add_secure_port(address, grpc.ssl_server_credentials([(key, cert)]))
        if not bound:
            raise OSError(f"cannot listen on {address}")
        server.start()
        self._server, self.port = server, bound
        return bound

    def stop(self, grace: float | None = None) -> None:
        """Refuses new calls, lets running ones finish within `grace` seconds."""
        if self._server is not None:
            grace = self._settings.shutdown_grace_seconds if grace is None else grace
            self._server.stop(grace).wait()
            self._server = None
        self.store.stop()
