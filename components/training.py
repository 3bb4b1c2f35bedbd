"""What both run_fns share: reading transformed examples and choosing the operating point."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf
from tfx import v1 as tfx
from tfx_bsl.public import tfxio


@dataclass(frozen=True)
class OperatingPoint:
    threshold: float
    sensitivity: float
    specificity: float
    target_sensitivity: float


def dataset(
    file_pattern: list[str],
    data_accessor: tfx.components.DataAccessor,
    schema,
    *,
    label_key: str,
    batch_size: int,
    num_epochs: int | None,
    shuffle: bool,
    seed: int,
) -> tf.data.Dataset:
    """(features, label) batches streamed from the transformed TFRecords."""
    return data_accessor.tf_dataset_factory(
        file_pattern,
        tfxio.TensorFlowDatasetOptions(
            batch_size=batch_size,
            label_key=label_key,
            num_epochs=num_epochs,
            shuffle=shuffle,
            shuffle_seed=seed,
        ),
        schema,
    ).prefetch(tf.data.AUTOTUNE)


def choose_operating_point(
    labels: np.ndarray, probabilities: np.ndarray, target_sensitivity: float
) -> OperatingPoint:
    """The highest threshold whose sensitivity reaches the target (label 1 = malignant).

    Highest, because among thresholds that catch enough cancers it gives the best
    specificity. With no positives there is nothing to tune on: 0.5 is kept.
    """
    labels = np.asarray(labels).reshape(-1).astype(int)
    probabilities = np.asarray(probabilities, dtype=np.float64).reshape(-1)
    positives = probabilities[labels == 1]
    negatives = probabilities[labels == 0]
    if positives.size == 0:
        threshold = 0.5
    else:
        # Sorted descending, the k-th positive score is the highest threshold that keeps
        # k positives at or above it.
        needed = int(np.ceil(target_sensitivity * positives.size))
        threshold = float(np.sort(positives)[::-1][max(needed, 1) - 1])
    sensitivity = float(np.mean(positives >= threshold)) if positives.size else float("nan")
    specificity = float(np.mean(negatives < threshold)) if negatives.size else float("nan")
    return OperatingPoint(threshold, sensitivity, specificity, target_sensitivity)


def predict_split(model: tf.keras.Model, batches: tf.data.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """Labels and P(malignant) over one pass of a (features, label) dataset."""
    labels, probabilities = [], []
    for features, label in batches:
        labels.append(np.asarray(label).reshape(-1))
        probabilities.append(np.asarray(model(features, training=False), np.float64).reshape(-1))
    return np.concatenate(labels), np.concatenate(probabilities)


def model_info(model_name: str, point: OperatingPoint, eval_labels: np.ndarray) -> dict:
    """What is recorded beside the served model about how its threshold was chosen."""
    return {
        "model_name": model_name,
        "operating_point": {
            "chosen_on": "eval",
            "target_sensitivity": point.target_sensitivity,
            "eval_sensitivity": point.sensitivity,
            "eval_specificity": point.specificity,
            "eval_examples": int(eval_labels.size),
            "eval_positives": int(np.sum(eval_labels == 1)),
        },
        "label_meaning": {"1": "malignant", "0": "benign"},
    }
