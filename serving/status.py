"""gRPC status for a failed request, worded as TF Serving words it."""

from __future__ import annotations

import re

import grpc
import tensorflow as tf

# TF's error codes are gRPC's codes by number (both come from absl::StatusCode).
_BY_NUMBER = {code.value[0]: code for code in grpc.StatusCode}
_NODE = re.compile(r"Detected at node (\S+)")
_NO_TRACE = "<stack traces unavailable>"


class ServingError(Exception):
    def __init__(self, code: grpc.StatusCode, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def not_found(message: str) -> ServingError:
    return ServingError(grpc.StatusCode.NOT_FOUND, message)


def invalid_argument(message: str) -> ServingError:
    return ServingError(grpc.StatusCode.INVALID_ARGUMENT, message)


def from_tf_error(err: tf.errors.OpError) -> ServingError:
    """Keeps what TF says went wrong and where; drops its Python-side scaffolding."""
    message = err.message
    node = _NODE.search(message)
    if _NO_TRACE in message:
        message = message.split(_NO_TRACE, 1)[1]
    message = message.split("\n\t [[")[0].split(" [Op:")[0].strip() or err.message
    if node:
        message = f"{message} (at node {node.group(1)})"
    return ServingError(_BY_NUMBER.get(err.error_code, grpc.StatusCode.UNKNOWN), message)
