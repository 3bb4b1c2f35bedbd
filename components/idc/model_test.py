"""The IDC network, its augmentation and its class weights."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from components.idc.model import (
    BLOCKS,
    FINAL_LR_SHARE,
    WARMUP_SHARE,
    EightViews,
    augment,
    batch_norm_momentum,
    build_model,
    learning_rate,
)
from components.idc.preprocessing import PIXEL_COUNT, PIXELS
from pipeline.config import IDC


def test_architecture_and_schedule():
    model = build_model(IDC.training)
    network = model.get_layer(EightViews.NAME).network
    layers = network.layers
    convs = [layer.filters for layer in layers if isinstance(layer, tf.keras.layers.Conv2D)]
    assert convs == [f for block in BLOCKS for f in block] == [32, 64, 128, 256]
    norms = [layer for layer in layers if isinstance(layer, tf.keras.layers.BatchNormalization)]
    assert len(norms) == len(convs)
    assert sum(isinstance(layer, tf.keras.layers.MaxPooling2D) for layer in layers) == 3
    assert isinstance(layers[-3], tf.keras.layers.GlobalAveragePooling2D)
    assert model.output_shape == network.output_shape == (None, 1)
    # Warm-up to the peak, then cosine decay to 2% of it at the last step.
    assert float(model.optimizer.learning_rate) == 0.0  # the schedule's, before any step
    schedule = learning_rate(IDC.training)
    steps = IDC.training.train_steps
    warmup = int(steps * WARMUP_SHARE)
    assert float(schedule(0)) == 0.0
    assert float(schedule(warmup)) == pytest.approx(IDC.training.learning_rate)
    assert float(schedule(steps)) == pytest.approx(IDC.training.learning_rate * FINAL_LR_SHARE)
    assert float(schedule(warmup + (steps - warmup) // 2)) == pytest.approx(
        IDC.training.learning_rate * (1 + FINAL_LR_SHARE) / 2, rel=1e-3)


def test_refuses_an_ensemble_it_would_not_build():
    with pytest.raises(ValueError, match="ensemble_members=3 is for WDBC"):
        build_model(dataclasses.replace(IDC.training, ensemble_members=3))


def _views(image: np.ndarray) -> list[np.ndarray]:
    return [v for base in (image, image.transpose(1, 0, 2))
            for v in (base, base[::-1], base[:, ::-1], base[::-1, ::-1])]


def test_augment_gives_each_patch_one_of_its_eight_views_with_its_colours_untouched():
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (64, PIXEL_COUNT)).astype(np.int64)
    labels = tf.constant(rng.integers(0, 2, (64, 1)))
    out, same_labels = augment({PIXELS: tf.constant(pixels)}, labels)
    out = out[PIXELS].numpy()
    assert out.shape == pixels.shape and out.dtype == np.int64
    np.testing.assert_array_equal(same_labels, labels)
    chosen = []
    for before, after in zip(pixels.reshape(-1, 50, 50, 3), out.reshape(-1, 50, 50, 3),
                             strict=True):
        matches = [i for i, view in enumerate(_views(before)) if np.array_equal(view, after)]
        assert len(matches) == 1  # random patches: no two views of one are equal
        chosen.append(matches[0])
    # Each patch draws its own view: 64 patches meet most of the 8.
    assert len(set(chosen)) >= 6


def test_learns_dark_versus_light_patches():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, 256)
    base = np.where(labels[:, None] == 1, 90, 200)
    pixels = np.clip(base + rng.normal(0, 30, (256, PIXEL_COUNT)), 0, 255).astype(np.int64)
    model = build_model(IDC.training)
    model.fit({PIXELS: pixels}, labels, epochs=3, batch_size=32, verbose=0)
    assert model.evaluate({PIXELS: pixels}, labels, verbose=0, return_dict=True)["auc"] > 0.95


def test_served_probability_is_the_mean_over_the_eight_views():
    model = build_model(IDC.training)
    pixels = np.random.default_rng(2).integers(0, 256, (3, PIXEL_COUNT)).astype(np.int64)
    served = model({PIXELS: tf.constant(pixels)}, training=False).numpy()
    network = model.get_layer(EightViews.NAME).network
    images = pixels.reshape(3, 50, 50, 3).astype(np.float32)
    views = np.stack([_views(image) for image in images], axis=1)  # [8, 3, 50, 50, 3]
    one_by_one = [network(v, training=False).numpy() for v in views]
    np.testing.assert_allclose(served, np.mean(one_by_one, axis=0), atol=1e-6)
    # The views disagree (an untrained network is not turn-invariant): the mean is not any one.
    assert not np.allclose(one_by_one[0], one_by_one[4])


def test_short_runs_forget_the_initial_batch_statistics():
    assert batch_norm_momentum(IDC.training) == IDC.training.batch_norm_momentum == 0.99
    for steps in (5, 200, 500):
        momentum = batch_norm_momentum(dataclasses.replace(IDC.training, train_steps=steps))
        assert momentum < 0.99 and momentum**steps == pytest.approx(np.exp(-10))
    model = build_model(dataclasses.replace(IDC.training, train_steps=200))
    norms = [layer.momentum for layer in model.get_layer(EightViews.NAME).network.layers
             if isinstance(layer, tf.keras.layers.BatchNormalization)]
    assert norms == [pytest.approx(np.exp(-10 / 200))] * 4
