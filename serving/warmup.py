"""TF Serving warmup records: `assets.extra/tf_serving_warmup_requests`.

TF Serving replays these PredictionLog records before it marks a version AVAILABLE, so the
first real request does not pay for graph initialisation. `bcpipe serve` replays them too.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_log_pb2

ASSETS_EXTRA = "assets.extra"
WARMUP_FILE = "tf_serving_warmup_requests"


def warmup_path(export_dir: str) -> str:
    return os.path.join(export_dir, ASSETS_EXTRA, WARMUP_FILE)


def write_warmup(export_dir: str, requests: Iterable[predict_pb2.PredictRequest]) -> int:
    """Writes one PredictionLog per request; returns how many were written."""
    path = warmup_path(export_dir)
    tf.io.gfile.makedirs(os.path.dirname(path))
    count = 0
    with tf.io.TFRecordWriter(path) as writer:
        for request in requests:
            log = prediction_log_pb2.PredictionLog(
                predict_log=prediction_log_pb2.PredictLog(request=request)
            )
            writer.write(log.SerializeToString())
            count += 1
    return count


def read_warmup(export_dir: str) -> list[prediction_log_pb2.PredictionLog]:
    """The records of a version's warmup file; empty when it has none."""
    path = warmup_path(export_dir)
    if not tf.io.gfile.exists(path):
        return []
    return [
        prediction_log_pb2.PredictionLog.FromString(record.numpy())
        for record in tf.data.TFRecordDataset(path)
    ]
