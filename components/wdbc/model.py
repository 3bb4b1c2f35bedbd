"""Trainer code for WDBC: the tutorial's 1D CNN over the 30 log-scaled, z-scored features,
several of them trained side by side and averaged (config.ensemble_members)."""

from __future__ import annotations

import tensorflow as tf
from tfx import v1 as tfx

from components import ensemble, training
from pipeline.config import WDBC_FEATURES, Training


def _member(features: tf.Tensor, config: Training, index: int) -> tf.Tensor:
    """One tutorial CNN over the concatenated features: P(malignant), [batch, 1]."""
    x = tf.keras.layers.Reshape((len(WDBC_FEATURES), 1))(features)
    for filters in (32, 64):
        x = tf.keras.layers.Conv1D(filters, 2, activation="relu")(x)
        x = tf.keras.layers.BatchNormalization(momentum=config.batch_norm_momentum)(x)
        x = tf.keras.layers.Dropout(config.dropout)(x)
    x = tf.keras.layers.Flatten()(x)
    x = tf.keras.layers.Dense(64, activation="relu")(x)
    x = tf.keras.layers.Dropout(config.dropout)(x)
    name = "probability" if config.ensemble_members == 1 else f"member_{index}"
    return tf.keras.layers.Dense(1, activation="sigmoid", name=name)(x)


def build_model(config: Training) -> tf.keras.Model:
    inputs = {name: tf.keras.layers.Input(shape=(1,), name=name) for name in WDBC_FEATURES}
    features = tf.keras.layers.Concatenate()([inputs[name] for name in WDBC_FEATURES])
    members = [_member(features, config, i) for i in range(config.ensemble_members)]
    model = ensemble.mean_of_members(inputs, members)
    model.compile(
        optimizer=tf.keras.optimizers.Adam(config.learning_rate),
        loss="binary_crossentropy",
        metrics=[tf.keras.metrics.AUC(name="auc"), tf.keras.metrics.BinaryAccuracy()],
    )
    return model


def _warmup_records(raw_schema) -> list[dict[str, float]]:
    """Inputs spread over each feature's curated domain: they exercise the serving graph."""
    domains = {f.name: f.float_domain for f in raw_schema.feature if f.name in WDBC_FEATURES}
    return [
        {name: domains[name].min + q * (domains[name].max - domains[name].min) for name in domains}
        for q in (0.1, 0.3, 0.5)
    ]


def run_fn(fn_args: tfx.components.FnArgs) -> None:
    training.fit_and_export(
        fn_args,
        build_model=build_model,
        raw_inputs={name: tf.TensorSpec([None], tf.float32, name=name) for name in WDBC_FEATURES},
        warmup_records=_warmup_records,
    )
