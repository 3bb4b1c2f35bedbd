"""A client for TF Serving's gRPC API (and so for `bcpipe serve`).

Every call has a deadline; UNAVAILABLE (server starting, restarting, not there) is retried
with exponential backoff, then reported with the address. Inputs larger than one batch are
sent as several requests and the answers joined, each row keeping the version that answered.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import grpc
import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import meta_graph_pb2
from tensorflow_serving.apis import (
    classification_pb2,
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from pipeline.config import SERVING, Serving
from serving.tensors import from_array, to_array

DEFAULT_SIGNATURE = "serving_default"


class ServingUnavailable(ConnectionError):
    """No answer from the server after every retry."""


@dataclass(frozen=True)
class Prediction:
    outputs: dict[str, np.ndarray]
    # The model version that answered each row.
    versions: np.ndarray


@dataclass(frozen=True)
class Classification:
    # Per example, (class label, score) per class, as TF Serving lists them.
    classes: list[list[tuple[str, float]]]
    version: int


def _set_version(spec, version: int | None, version_label: str | None) -> None:
    if version is not None and version_label is not None:
        raise ValueError("give a version or a version label, not both")
    if version is not None:
        spec.version.value = version
    elif version_label is not None:
        spec.version_label = version_label


def _column(values: Sequence | np.ndarray) -> np.ndarray:
    """Bytes as an object array: numpy's fixed-width bytes would drop trailing NULs, which a
    serialized tf.Example or an image may well end with."""
    if isinstance(values, np.ndarray) and values.dtype.kind != "S":
        return values
    values = list(values)
    if values and isinstance(values[0], bytes | str):
        return np.array(values, dtype=object)
    return np.asarray(values)


class ServingClient:
    def __init__(
        self,
        address: str,
        *,
        ca_cert: Path | bytes | None = None,
        settings: Serving = SERVING,
        timeout: float | None = None,
        attempts: int | None = None,
        batch_size: int | None = None,
    ):
        self.address = address
        self.timeout = settings.client_timeout_seconds if timeout is None else timeout
        self.attempts = settings.client_attempts if attempts is None else attempts
        self.batch_size = settings.client_batch_size if batch_size is None else batch_size
        self._settings = settings
        limit = settings.max_message_bytes
        options = [
            ("grpc.max_send_message_length", limit),
            ("grpc.max_receive_message_length", limit),
        ]
        self._tls = ca_cert is not None
        if ca_cert is None:
            self._channel = grpc.insecure_channel(address, options=options)
        else:
            root = ca_cert.read_bytes() if isinstance(ca_cert, Path) else ca_cert
            credentials = grpc.ssl_channel_credentials(root_certificates=root)
            self._channel = grpc.secure_channel(address, credentials, options=options)
        self._prediction = prediction_service_pb2_grpc.PredictionServiceStub(self._channel)
        self._models = model_service_pb2_grpc.ModelServiceStub(self._channel)

    def _tls_mismatch(self, details: str) -> str | None:
        """What a failure says when client and server disagree about TLS: no retry mends
        that, so it is told at once."""
        if "CERTIFICATE_VERIFY_FAILED" in details:
            return "TLS handshake failed: the server's certificate is not signed by --ca-cert"
        if "handshake" in details.lower():
            return "TLS handshake failed; does the server speak TLS?"
        if not self._tls and "Socket closed" in details:
            return ("the server closed the connection at once; it may speak TLS only "
                    "(then give --ca-cert)")
        return None

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> ServingClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def call(self, method: str, request):
        """One RPC by its TF Serving name (`Predict`, `GetModelStatus`, ...), with the
        deadline and the retries; other failures raise grpc.RpcError unchanged."""
        model_service = method in ("GetModelStatus", "HandleReloadConfigRequest")
        rpc = getattr(self._models if model_service else self._prediction, method)
        delay = self._settings.client_backoff_seconds
        for attempt in range(1, self.attempts + 1):
            try:
                return rpc(request, timeout=self.timeout)
            except grpc.RpcError as err:
                if err.code() != grpc.StatusCode.UNAVAILABLE:
                    raise
                mismatch = self._tls_mismatch(err.details() or "")
                if mismatch:
                    raise ServingUnavailable(f"{self.address}: {mismatch}") from err
                if attempt == self.attempts:
                    raise ServingUnavailable(
                        f"no TF Serving answer at {self.address} after {attempt} attempts: "
                        f"{err.details()}"
                    ) from err
            time.sleep(delay)
            delay = min(delay * 2, self._settings.client_backoff_max_seconds)
        raise AssertionError("unreachable")

    def predict(
        self,
        model: str,
        inputs: Mapping[str, Sequence | np.ndarray],
        *,
        signature: str = DEFAULT_SIGNATURE,
        version: int | None = None,
        version_label: str | None = None,
    ) -> Prediction:
        """Predict, the inputs split along their first dimension into batches. Each input's
        dtype is its array's (send float32 for DT_FLOAT); bytes go as DT_STRING."""
        arrays = {name: _column(values) for name, values in inputs.items()}
        lengths = {name: len(a) for name, a in arrays.items()}
        if len(set(lengths.values())) != 1:
            raise ValueError(f"inputs differ in length: {lengths}")
        total = next(iter(lengths.values()))
        parts, versions = [], []
        for start in range(0, max(total, 1), self.batch_size):
            request = predict_pb2.PredictRequest()
            request.model_spec.name = model
            request.model_spec.signature_name = signature
            _set_version(request.model_spec, version, version_label)
            for name, array in arrays.items():
                request.inputs[name].CopyFrom(from_array(array[start : start + self.batch_size]))
            response = self.call("Predict", request)
            parts.append({k: to_array(v) for k, v in response.outputs.items()})
            size = min(self.batch_size, total - start)
            versions.append(np.full(size, response.model_spec.version.value, np.int64))
        outputs = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        return Prediction(outputs, np.concatenate(versions))

    def classify(
        self,
        model: str,
        examples: Sequence[tf.train.Example],
        *,
        signature: str = "classify",
        version: int | None = None,
        version_label: str | None = None,
    ) -> Classification:
        request = classification_pb2.ClassificationRequest()
        request.model_spec.name = model
        request.model_spec.signature_name = signature
        _set_version(request.model_spec, version, version_label)
        request.input.example_list.examples.extend(examples)
        response = self.call("Classify", request)
        classes = [
            [(c.label, c.score) for c in result.classes]
            for result in response.result.classifications
        ]
        return Classification(classes, response.model_spec.version.value)

    def metadata(
        self, model: str, *, version: int | None = None, version_label: str | None = None
    ) -> tuple[int, dict[str, meta_graph_pb2.SignatureDef]]:
        """(version, signature defs) of the version the spec resolves to."""
        request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
        request.model_spec.name = model
        _set_version(request.model_spec, version, version_label)
        response = self.call("GetModelMetadata", request)
        signatures = get_model_metadata_pb2.SignatureDefMap()
        response.metadata["signature_def"].Unpack(signatures)
        return response.model_spec.version.value, dict(signatures.signature_def)

    def status(
        self, model: str, *, version: int | None = None
    ) -> dict[int, get_model_status_pb2.ModelVersionStatus]:
        request = get_model_status_pb2.GetModelStatusRequest()
        request.model_spec.name = model
        _set_version(request.model_spec, version, None)
        response = self.call("GetModelStatus", request)
        return {s.version: s for s in response.model_version_status}

    def wait_until_available(self, model: str, version: int, *, timeout: float) -> None:
        """Polls GetModelStatus until `version` is AVAILABLE; TimeoutError otherwise."""
        available = get_model_status_pb2.ModelVersionStatus.AVAILABLE
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                state = self.status(model).get(version)
            except grpc.RpcError as err:
                if err.code() != grpc.StatusCode.NOT_FOUND:
                    raise
                state = None
            if state is not None and state.state == available:
                return
            time.sleep(0.1)
        raise TimeoutError(f"{model} version {version} not AVAILABLE at {self.address}")
