"""Trainer code for IDC patches: a batch-normalised CNN trained on every flip and quarter turn
of each patch, on a cosine learning-rate schedule (class weights: config.balance_classes).

Built under MirroredStrategy so every GPU of the node is used (one CPU device here), with
mixed precision when a GPU is present. What each choice gave on real patients, held out by
patient, is in bench/README.md (idc_quality).
"""

from __future__ import annotations

import io
import math

import tensorflow as tf
from PIL import Image
from tfx import v1 as tfx

from components import training
from components.idc.preprocessing import PIXEL_COUNT, PIXELS
from pipeline.config import IDC_PATCH_SIZE, Training

SHAPE = (IDC_PATCH_SIZE, IDC_PATCH_SIZE, 3)
# Convolutions per resolution (50, 25, 12, 6), each followed by batch norm and ReLU.
BLOCKS = ((32,), (64,), (128,), (256,))
# The schedule warms up over this share of the steps, then decays to this share of the peak.
WARMUP_SHARE = 0.05
FINAL_LR_SHARE = 0.02


def _conv(x: tf.Tensor, filters: int, momentum: float) -> tf.Tensor:
    x = tf.keras.layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
    x = tf.keras.layers.BatchNormalization(momentum=momentum)(x)
    return tf.keras.layers.ReLU()(x)


def learning_rate(config: Training) -> tf.keras.optimizers.schedules.LearningRateSchedule:
    """Linear warm-up to the config's rate, then cosine decay over the run's steps."""
    warmup = max(1, int(config.train_steps * WARMUP_SHARE))
    return tf.keras.optimizers.schedules.CosineDecay(
        0.0, max(1, config.train_steps - warmup), alpha=FINAL_LR_SHARE,
        warmup_target=config.learning_rate, warmup_steps=warmup,
    )


def batch_norm_momentum(config: Training) -> float:
    """The config's momentum, lowered for a short run until the moving statistics' initial
    values weigh at most e^-10 by its last step: at 0.99, 200 steps still leave them 13% of
    the statistics the served model normalises with, and its answers are noise."""
    return min(config.batch_norm_momentum, math.exp(-10 / max(1, config.train_steps)))


def _network(config: Training) -> tf.keras.Model:
    """One view of a batch of patches (0..255, [n, 50, 50, 3]) -> P(IDC) [n, 1]."""
    images = tf.keras.layers.Input(shape=SHAPE)
    x = tf.keras.layers.Rescaling(1.0 / 255)(images)
    momentum = batch_norm_momentum(config)
    for depth, block in enumerate(BLOCKS):
        if depth:
            x = tf.keras.layers.MaxPooling2D()(x)
        for filters in block:
            x = _conv(x, filters, momentum)
    x = tf.keras.layers.GlobalAveragePooling2D()(x)
    x = tf.keras.layers.Dropout(config.dropout)(x)
    # float32 output keeps the probability exact under mixed precision.
    output = tf.keras.layers.Dense(1, activation="sigmoid", dtype="float32", name="probability")(x)
    return tf.keras.Model(images, output, name="network")


class EightViews(tf.keras.layers.Layer):
    """The network in training; at inference, its mean over the patch's 8 flips and quarter
    turns. A patch has no up or left: training sees every view (augment), and averaging
    them removes what the network still says differently about the same tissue turned."""

    NAME = "eight_views"

    def __init__(self, network: tf.keras.Model, **kwargs):
        super().__init__(**kwargs)
        self.network = network

    def call(self, images: tf.Tensor, training=None) -> tf.Tensor:
        if training:
            return self.network(images, training=True)
        turned = tf.transpose(images, [0, 2, 1, 3])
        views = [flipped for view in (images, turned) for flipped in (
            view, tf.reverse(view, [1]), tf.reverse(view, [2]), tf.reverse(view, [1, 2]))]
        probabilities = self.network(tf.concat(views, axis=0), training=False)
        return tf.reduce_mean(tf.reshape(probabilities, [len(views), -1, 1]), axis=0)


def build_model(config: Training) -> tf.keras.Model:
    if config.ensemble_members != 1:
        # Not silently one network: averaging several is untried here under MirroredStrategy
        # and mixed precision, and would multiply the full-scale training time.
        raise ValueError(
            f"IDC trains one network; ensemble_members={config.ensemble_members} is for WDBC"
        )
    pixels = tf.keras.layers.Input(shape=(PIXEL_COUNT,), name=PIXELS, dtype=tf.int64)
    images = tf.keras.layers.Reshape(SHAPE)(pixels)
    output = EightViews(_network(config), name=EightViews.NAME)(images)
    model = tf.keras.Model(inputs={PIXELS: pixels}, outputs=output)
    model.compile(
        optimizer=tf.keras.optimizers.Adam(learning_rate(config)),
        loss="binary_crossentropy",
        metrics=[tf.keras.metrics.AUC(name="auc"), tf.keras.metrics.BinaryAccuracy()],
    )
    return model


def augment(features: dict, label: tf.Tensor) -> tuple[dict, tf.Tensor]:
    """Per patch: any of its 8 flips and quarter turns. Its colours are left as stained:
    stain (HED) and HSV jitter lowered the AUC on held-out patients (bench/README.md)."""
    images = tf.reshape(features[PIXELS], (-1, *SHAPE))
    turn = tf.random.uniform([tf.shape(images)[0], 1, 1, 1]) < 0.5
    images = tf.where(turn, tf.transpose(images, [0, 2, 1, 3]), images)
    images = tf.image.random_flip_left_right(images)
    images = tf.image.random_flip_up_down(images)
    return {**features, PIXELS: tf.reshape(images, (-1, PIXEL_COUNT))}, label


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
