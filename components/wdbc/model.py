"""Trainer code for WDBC: the tutorial's 1D CNN over the 30 z-scored features."""

from __future__ import annotations

import math

import tensorflow as tf
import tensorflow_transform as tft
from tfx import v1 as tfx

from components import training
from pipeline.config import WDBC_FEATURES, Training
from serving import signatures


def build_model(config: Training) -> tf.keras.Model:
    inputs = {name: tf.keras.layers.Input(shape=(1,), name=name) for name in WDBC_FEATURES}
    x = tf.keras.layers.Concatenate()([inputs[name] for name in WDBC_FEATURES])
    x = tf.keras.layers.Reshape((len(WDBC_FEATURES), 1))(x)
    for filters in (32, 64):
        x = tf.keras.layers.Conv1D(filters, 2, activation="relu")(x)
        x = tf.keras.layers.BatchNormalization()(x)
        x = tf.keras.layers.Dropout(config.dropout)(x)
    x = tf.keras.layers.Flatten()(x)
    x = tf.keras.layers.Dense(64, activation="relu")(x)
    x = tf.keras.layers.Dropout(config.dropout)(x)
    output = tf.keras.layers.Dense(1, activation="sigmoid", name="probability")(x)
    model = tf.keras.Model(inputs=inputs, outputs=output)
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
    custom = fn_args.custom_config
    config = Training(**custom["training"])
    label_key = custom["label_key"]
    tf.keras.utils.set_random_seed(config.seed)
    tft_output = tft.TFTransformOutput(fn_args.transform_output)
    schema = tft_output.transformed_metadata.schema

    def data(files, *, epochs, shuffle):
        return training.dataset(
            files, fn_args.data_accessor, schema, label_key=label_key,
            batch_size=config.batch_size, num_epochs=epochs, shuffle=shuffle, seed=config.seed,
        )

    model = build_model(config)
    model.fit(
        data(fn_args.train_files, epochs=None, shuffle=True),
        steps_per_epoch=config.steps_per_epoch,
        epochs=max(1, math.ceil(fn_args.train_steps / config.steps_per_epoch)),
        validation_data=data(fn_args.eval_files, epochs=1, shuffle=False),
        callbacks=[
            tf.keras.callbacks.EarlyStopping(
                monitor="val_auc", mode="max", patience=config.early_stopping_patience,
                restore_best_weights=True,
            ),
            tf.keras.callbacks.TensorBoard(fn_args.model_run_dir),
        ],
        verbose=2,
    )
    labels, probabilities = training.predict_split(
        model, data(fn_args.eval_files, epochs=1, shuffle=False)
    )
    point = training.choose_operating_point(labels, probabilities, config.target_sensitivity)
    raw_spec = {
        name: spec for name, spec in tft_output.raw_feature_spec().items() if name in WDBC_FEATURES
    }
    signatures.save_serving_model(
        fn_args.serving_model_dir,
        model=model,
        tft_layer=tft_output.transform_features_layer(),
        raw_inputs={name: tf.TensorSpec([None], tf.float32, name=name) for name in WDBC_FEATURES},
        raw_feature_spec=raw_spec,
        threshold=point.threshold,
        info=training.model_info(custom["model_name"], point, labels),
        warmup_records=_warmup_records(tft_output.raw_metadata.schema),
    )
