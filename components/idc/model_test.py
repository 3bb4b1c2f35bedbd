"""The IDC network, its augmentation and its class weights."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from components.idc.model import augment, build_model
from components.idc.preprocessing import PIXEL_COUNT, PIXELS
from pipeline.config import IDC


def test_architecture_and_optimizer():
    model = build_model(IDC.training)
    convs = [layer.filters for layer in model.layers if isinstance(layer, tf.keras.layers.Conv2D)]
    assert convs == [32, 64, 128]
    assert sum(isinstance(layer, tf.keras.layers.MaxPooling2D) for layer in model.layers) == 3
    assert model.output_shape == (None, 1)
    assert IDC.training.learning_rate == 1e-4
    assert float(model.optimizer.learning_rate) == pytest.approx(1e-4)


def test_refuses_an_ensemble_it_would_not_build():
    with pytest.raises(ValueError, match="ensemble_members=3 is for WDBC"):
        build_model(dataclasses.replace(IDC.training, ensemble_members=3))


def test_augment_keeps_content_shape_and_range():
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (16, PIXEL_COUNT)).astype(np.int64)
    labels = tf.constant(rng.integers(0, 2, (16, 1)))
    out, same_labels = augment({PIXELS: tf.constant(pixels)}, labels)
    out = out[PIXELS].numpy()
    assert out.shape == pixels.shape and out.dtype == np.int64
    assert out.min() >= 0 and out.max() <= 255
    np.testing.assert_array_equal(same_labels, labels)
    # Flips, turns and mild stain jitter: each patch keeps its histogram roughly.
    np.testing.assert_allclose(out.mean(axis=1), pixels.mean(axis=1), atol=15)
    assert not np.array_equal(out, pixels)


def test_learns_dark_versus_light_patches():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, 256)
    base = np.where(labels[:, None] == 1, 90, 200)
    pixels = np.clip(base + rng.normal(0, 30, (256, PIXEL_COUNT)), 0, 255).astype(np.int64)
    model = build_model(IDC.training)
    model.fit({PIXELS: pixels}, labels, epochs=3, batch_size=32, verbose=0)
    assert model.evaluate({PIXELS: pixels}, labels, verbose=0, return_dict=True)["auc"] > 0.95
