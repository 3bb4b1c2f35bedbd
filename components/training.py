"""What both run_fns share: reading transformed examples and choosing the operating point."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
from tfx import v1 as tfx
from tfx_bsl.public import tfxio

from components import autograph_rules
from pipeline.config import CHOSEN_FOR_SENSITIVITY, EVAL_SPLIT, FIXED_THRESHOLD, Training
from serving import signatures

# Before any model of this process is traced: every run_fn and benchmark fit comes here.
autograph_rules.skip_tf_keras()


@dataclasses.dataclass(frozen=True)
class OperatingPoint:
    threshold: float
    sensitivity: float
    specificity: float
    target_sensitivity: float
    policy: str = CHOSEN_FOR_SENSITIVITY


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
    labels: np.ndarray,
    probabilities: np.ndarray,
    target_sensitivity: float,
    max_threshold: float = 1.0,
    min_threshold: float = 0.0,
) -> OperatingPoint:
    """A threshold whose sensitivity on these examples reaches the target (label 1 = malignant).

    With k the positives the target needs, every threshold above the next lower score than
    the k-th highest positive's, and up to that positive's, classifies these examples alike
    with the best specificity that reaches the target. The middle of that gap in logit
    space is taken rather than its top, so that a new positive scoring a little under the
    k-th is not missed for nothing. The threshold is never above `max_threshold`, which
    only ever raises the sensitivity, nor below `min_threshold` (the ceiling wins), which
    may give up sensitivity here rather than follow one outlying positive. With no
    positives there is nothing to tune on: 0.5 within those bounds is kept.
    """
    labels = np.asarray(labels).reshape(-1).astype(int)
    probabilities = np.asarray(probabilities, dtype=np.float64).reshape(-1)
    positives = probabilities[labels == 1]
    if positives.size == 0:
        threshold = 0.5
    else:
        needed = int(np.ceil(target_sensitivity * positives.size))
        kth = float(np.sort(positives)[::-1][max(needed, 1) - 1])
        lower = probabilities[probabilities < kth]
        threshold = _logit_midpoint(float(lower.max()), kth) if lower.size else kth
    threshold = min(max(threshold, min_threshold), max_threshold)
    return _point_at(labels, probabilities, threshold, target_sensitivity,
                     CHOSEN_FOR_SENSITIVITY)


def _point_at(labels: np.ndarray, probabilities: np.ndarray, threshold: float,
              target_sensitivity: float, policy: str) -> OperatingPoint:
    """What `threshold` gives on these examples (NaN for a class they do not hold)."""
    labels = np.asarray(labels).reshape(-1).astype(int)
    called = np.asarray(probabilities, dtype=np.float64).reshape(-1) >= threshold
    positives, negatives = called[labels == 1], called[labels == 0]
    sensitivity = float(np.mean(positives)) if positives.size else float("nan")
    specificity = float(np.mean(~negatives)) if negatives.size else float("nan")
    return OperatingPoint(threshold, sensitivity, specificity, target_sensitivity, policy)


def configured_operating_point(
    labels: np.ndarray, probabilities: np.ndarray, config: Training
) -> OperatingPoint:
    """The config's policy on these (eval) examples: its fixed threshold, with what it gives
    here, or `choose_operating_point` with its target, ceiling and floor."""
    if config.fixed_threshold is None:
        return choose_operating_point(
            labels, probabilities, config.target_sensitivity, config.max_threshold,
            config.min_threshold,
        )
    return _point_at(labels, probabilities, config.fixed_threshold, config.target_sensitivity,
                     FIXED_THRESHOLD)


def _logit_midpoint(low: float, high: float) -> float:
    """The probability halfway between two others in logit space, strictly above `low` and
    at most `high` (`high` itself where a score of 0 or 1 leaves no finite middle)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        middle = (np.log(low) - np.log1p(-low) + np.log(high) - np.log1p(-high)) / 2
        threshold = float(1 / (1 + np.exp(-middle)))
    return threshold if low < threshold <= high else high


def predict_split(model: tf.keras.Model, batches: tf.data.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """Labels and P(malignant) over one pass of a (features, label) dataset."""
    labels, probabilities = [], []
    for features, label in batches:
        labels.append(np.asarray(label).reshape(-1))
        probabilities.append(np.asarray(model(features, training=False), np.float64).reshape(-1))
    return np.concatenate(labels), np.concatenate(probabilities)


def model_info(
    model_name: str, point: OperatingPoint, eval_labels: np.ndarray, config: Training
) -> dict:
    """What is recorded beside the served model: how it was trained and how its threshold
    was chosen (the review report describes the model from this, not from the config)."""
    return {
        "model_name": model_name,
        "training": dataclasses.asdict(config),
        "operating_point": {
            "policy": point.policy,
            # A fixed threshold is not chosen on any split; eval only shows what it gives.
            "chosen_on": EVAL_SPLIT if point.policy == CHOSEN_FOR_SENSITIVITY else None,
            "target_sensitivity": point.target_sensitivity,
            "eval_sensitivity": point.sensitivity,
            "eval_specificity": point.specificity,
            "eval_examples": int(eval_labels.size),
            "eval_positives": int(np.sum(eval_labels == 1)),
        },
        "label_meaning": {"1": "malignant", "0": "benign"},
    }


def balanced_class_weights(labels: np.ndarray) -> dict[int, float]:
    """Weights that make both classes count equally, instead of dropping negatives."""
    counts = np.bincount(labels.astype(int), minlength=2).astype(float)
    if counts.min() == 0:
        return {0: 1.0, 1: 1.0}
    return {c: float(counts.sum() / (2 * counts[c])) for c in (0, 1)}


def split_labels(files: list[str], label_key: str) -> np.ndarray:
    """Only the labels of a transformed split (file patterns), parsed alone."""
    spec = {label_key: tf.io.FixedLenFeature([1], tf.int64)}
    paths = [path for pattern in files for path in tf.io.gfile.glob(pattern)]
    batches = tf.data.TFRecordDataset(paths, compression_type="GZIP").batch(4096)
    return np.concatenate(
        [tf.io.parse_example(b, spec)[label_key].numpy().reshape(-1) for b in batches]
        or [np.zeros(0, np.int64)]
    )


def fit_schedule(train_steps: int, steps_per_epoch: int) -> tuple[int, int]:
    """(steps per epoch, epochs) for Keras. Epochs are only where early stopping looks: a
    run asked for fewer steps than one epoch trains exactly those steps."""
    per_epoch = max(1, min(steps_per_epoch, train_steps))
    return per_epoch, max(1, math.ceil(train_steps / per_epoch))


def fit(
    model: tf.keras.Model,
    train: tf.data.Dataset,
    valid: tf.data.Dataset,
    config: Training,
    *,
    class_weight: dict[int, float] | None = None,
    callbacks: list | tuple = (),
    verbose: int = 2,
) -> tf.keras.callbacks.History:
    """Fit on an endless `train` for the config's steps, early-stopping on `valid` with the
    best epoch's weights restored (patience 0: every step, the last weights kept, and
    `valid` scored once, at the end, since no epoch's score decides anything): the Trainer's
    loop, which bench/ runs on its own folds."""
    steps_per_epoch, epochs = fit_schedule(config.train_steps, config.steps_per_epoch)
    stopping = [tf.keras.callbacks.EarlyStopping(
        monitor=config.early_stopping_monitor, mode=config.early_stopping_mode,
        patience=config.early_stopping_patience, restore_best_weights=True,
    )] if config.early_stopping_patience > 0 else []
    return model.fit(
        train,
        steps_per_epoch=steps_per_epoch,
        epochs=epochs,
        validation_data=valid,
        validation_freq=1 if stopping else epochs,
        class_weight=class_weight,
        callbacks=[*stopping, *callbacks],
        verbose=verbose,
    )


def fit_and_export(
    fn_args: tfx.components.FnArgs,
    *,
    build_model: Callable[[Training], tf.keras.Model],
    raw_inputs: Mapping[str, tf.TensorSpec],
    warmup_records: Callable[[object], list[dict]],
    augment: Callable | None = None,
    batch_scale: int = 1,
) -> OperatingPoint:
    """The run_fn both datasets share: fit with early stopping on eval, choose the
    operating threshold on eval, export the serving SavedModel.

    raw_inputs: the serving_raw signature's inputs (also the serving features parsed from
    tf.Examples); warmup_records: raw schema -> records for the warmup file.
    """
    custom = fn_args.custom_config
    # The Trainer's TrainArgs decide the steps (a run may override the config's).
    config = dataclasses.replace(Training(**custom["training"]), train_steps=fn_args.train_steps)
    label_key = custom["label_key"]
    tf.keras.utils.set_random_seed(config.seed)
    tft_output = tft.TFTransformOutput(fn_args.transform_graph_path)
    schema = tft_output.transformed_metadata.schema

    def data(files, *, epochs, shuffle):
        return dataset(
            files, fn_args.data_accessor, schema, label_key=label_key,
            batch_size=config.batch_size * batch_scale, num_epochs=epochs, shuffle=shuffle,
            seed=config.seed,
        )

    train = data(fn_args.train_files, epochs=None, shuffle=True)
    if augment is not None:
        train = train.map(augment, num_parallel_calls=tf.data.AUTOTUNE)
    weights = None
    if config.balance_classes:
        weights = balanced_class_weights(split_labels(fn_args.train_files, label_key))
    model = build_model(config)
    fit(
        model, train, data(fn_args.eval_files, epochs=1, shuffle=False), config,
        class_weight=weights, callbacks=[tf.keras.callbacks.TensorBoard(fn_args.model_run_dir)],
    )
    labels, probabilities = predict_split(model, data(fn_args.eval_files, epochs=1, shuffle=False))
    point = configured_operating_point(labels, probabilities, config)
    serving_spec = {
        name: spec for name, spec in tft_output.raw_feature_spec().items() if name in raw_inputs
    }
    signatures.save_serving_model(
        fn_args.serving_model_dir,
        model=model,
        tft_layer=tft_output.transform_features_layer(),
        raw_inputs=raw_inputs,
        raw_feature_spec=serving_spec,
        threshold=point.threshold,
        info={**model_info(custom["model_name"], point, labels, config), "class_weights": weights},
        warmup_records=warmup_records(tft_output.raw_metadata.schema),
    )
    return point
