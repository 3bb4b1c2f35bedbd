"""Scores a split with a model's `serving_default` signature, as clients get answers.

The report scores the candidate (and the served baseline) itself rather than trusting
only TFMA's aggregates: it needs each example's answer for bootstrap intervals, the test
split and slices; on the split TFMA blessed on, its numbers are checked against TFMA's.
"""

from __future__ import annotations

import os

import numpy as np
import tensorflow as tf

from components import artifacts
from components.baseline import SERVING_MODEL_DIR
from components.report.metrics import Scores
from serving.signatures import EXAMPLES_INPUT, LABEL, PROBABILITY, SERVING_DEFAULT

_BATCH = 256
_KINDS = {"int64_list": tf.int64, "float_list": tf.float32, "bytes_list": tf.string}


def model_dir(model_artifact) -> str:
    return os.path.join(model_artifact.uri, SERVING_MODEL_DIR)


def _records(examples, split: str) -> tf.data.Dataset:
    return tf.data.TFRecordDataset(artifacts.split_files(examples, split), compression_type="GZIP")


def _spec(first: bytes, keys: list[str]) -> dict[str, tf.io.FixedLenFeature]:
    feature = tf.train.Example.FromString(first).features.feature
    missing = [key for key in keys if key not in feature]
    if missing:
        raise KeyError(f"features {missing} are missing from the examples")
    return {key: tf.io.FixedLenFeature([], _KINDS[feature[key].WhichOneof("kind")])
            for key in keys}


def _decode(values: np.ndarray) -> np.ndarray:
    if values.dtype == object:
        return np.array([v.decode() for v in values])
    return values


def read_features(examples, split: str, keys: list[str]) -> dict[str, np.ndarray]:
    """Scalar features of every example of a split, in file order."""
    records = _records(examples, split)
    first = next(iter(records.take(1)), None)
    if first is None:
        return {key: np.empty(0) for key in keys}
    spec = _spec(first.numpy(), keys)
    columns = {key: [] for key in keys}
    for batch in records.batch(_BATCH):
        parsed = tf.io.parse_example(batch, spec)
        for key in keys:
            columns[key].append(parsed[key].numpy())
    return {key: _decode(np.concatenate(parts)) for key, parts in columns.items()}


def score(model_path: str, examples, split: str, *, label_key: str, partition_key: str) -> Scores:
    """Labels, P(label 1), the served decision and the partition of each example."""
    signature = tf.saved_model.load(model_path).signatures[SERVING_DEFAULT]
    probability, decision = [], []
    for batch in _records(examples, split).batch(_BATCH):
        answer = signature(**{EXAMPLES_INPUT: batch})
        probability.append(answer[PROBABILITY].numpy().astype(np.float64))
        decision.append(answer[LABEL].numpy().astype(int))
    columns = read_features(examples, split, [label_key, partition_key])
    if not probability:
        empty = np.empty(0)
        return Scores(empty.astype(int), empty, empty.astype(int), empty)
    return Scores(
        labels=columns[label_key].astype(int),
        probability=np.concatenate(probability),
        decision=np.concatenate(decision),
        groups=columns[partition_key].astype(str),
    )
