"""Trainer code for IDC patches: the tutorial's 2D CNN with augmentation
(class weights: config.balance_classes).

Built under MirroredStrategy so every GPU of the node is used (one CPU device here), with
mixed precision when a GPU is present.
"""

from __future__ import annotations

import io

import tensorflow as tf
from PIL import Image
from tfx import v1 as tfx

from components import training
from components.idc.preprocessing import PIXEL_COUNT, PIXELS
from pipeline.config import IDC_PATCH_SIZE, Training

SHAPE = (IDC_PATCH_SIZE, IDC_PATCH_SIZE, 3)


def build_model(config: Training) -> tf.keras.Model:
    if config.ensemble_members != 1:
        # Not silently one network: averaging several is untried here under MirroredStrategy
        # and mixed precision, and would multiply the full-scale training time.
        raise ValueError(
            f"IDC trains one network; ensemble_members={config.ensemble_members} is for WDBC"
        )
    pixels = tf.keras.layers.Input(shape=(PIXEL_COUNT,), name=PIXELS, dtype=tf.int64)
    x = tf.keras.layers.Reshape(SHAPE)(pixels)
    x = tf.keras.layers.Rescaling(1.0 / 255)(x)
    for filters in (32, 64, 128):
        x = tf.keras.layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        x = tf.keras.layers.MaxPooling2D()(x)
    x = tf.keras.layers.Flatten()(x)
    x = tf.keras.layers.Dense(128, activation="relu")(x)
    x = tf.keras.layers.Dropout(config.dropout)(x)
    # float32 output keeps the probability exact under mixed precision.
    output = tf.keras.layers.Dense(1, activation="sigmoid", dtype="float32", name="probability")(x)
    model = tf.keras.Model(inputs={PIXELS: pixels}, outputs=output)
    model.compile(
        optimizer=tf.keras.optimizers.Adam(config.learning_rate),
        loss="binary_crossentropy",
        metrics=[tf.keras.metrics.AUC(name="auc"), tf.keras.metrics.BinaryAccuracy()],
    )
    return model


def augment(features: dict, label: tf.Tensor) -> tuple[dict, tf.Tensor]:
    """Per patch: any of the 8 flips/rotations, and mild per-channel stain jitter."""
    images = tf.reshape(tf.cast(features[PIXELS], tf.float32), (-1, *SHAPE))
    batch = tf.shape(images)[0]
    transpose = tf.random.uniform([batch, 1, 1, 1]) < 0.5
    images = tf.where(transpose, tf.transpose(images, [0, 2, 1, 3]), images)  # 90-degree turns
    images = tf.image.random_flip_left_right(images)
    images = tf.image.random_flip_up_down(images)
    stain = tf.random.uniform([batch, 1, 1, 3], 0.94, 1.06)
    brightness = tf.random.uniform([batch, 1, 1, 1], -8.0, 8.0)
    images = tf.clip_by_value(tf.round(images * stain + brightness), 0, 255)
    return {**features, PIXELS: tf.reshape(tf.cast(images, tf.int64), (-1, PIXEL_COUNT))}, label


def _png(height: int, width: int, value: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (value, value // 2, value)).save(buffer, format="PNG")
    return buffer.getvalue()


def distribution() -> tf.distribute.Strategy:
    """MirroredStrategy over every GPU (one CPU device here), mixed precision on GPU."""
    if tf.config.list_physical_devices("GPU"):
        tf.keras.mixed_precision.set_global_policy("mixed_float16")
    return tf.distribute.MirroredStrategy()


def run_fn(fn_args: tfx.components.FnArgs) -> None:
    strategy = distribution()
    training.fit_and_export(
        fn_args,
        build_model=lambda config: _under(strategy, build_model, config),
        augment=augment,
        batch_scale=strategy.num_replicas_in_sync,
        raw_inputs={"image": tf.TensorSpec([None], tf.string, name="image")},
        warmup_records=lambda _: [{"image": _png(50, 50, 200)}, {"image": _png(37, 50, 160)}],
    )


def _under(strategy: tf.distribute.Strategy, build, config: Training) -> tf.keras.Model:
    with strategy.scope():
        return build(config)
