"""gRPC status for a failed request, worded as TF Serving words it."""

from __future__ import annotations

import grpc
import tensorflow as tf

# TF's error codes are gRPC's codes by number (both come from absl::StatusCode).
_BY_NUMBER = {code.value[0]: code for code in grpc.StatusCode}


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
    return ServingError(_BY_NUMBER.get(err.error_code, grpc.StatusCode.UNKNOWN), err.message)
