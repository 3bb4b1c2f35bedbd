"""The WDBC network is the tutorial's 1D CNN and learns from a few steps."""

import numpy as np
import tensorflow as tf

from components.wdbc.model import build_model
from pipeline.config import WDBC, WDBC_FEATURES


def test_architecture_follows_the_tutorial():
    model = build_model(WDBC.training)
    convs = [layer for layer in model.layers if isinstance(layer, tf.keras.layers.Conv1D)]
    assert [(c.filters, c.kernel_size) for c in convs] == [(32, (2,)), (64, (2,))]
    kinds = {type(layer).__name__ for layer in model.layers}
    assert {"BatchNormalization", "Dropout", "Dense", "Flatten"} <= kinds
    assert model.output_shape == (None, 1)
    assert model.layers[-1].activation is tf.keras.activations.sigmoid
    assert isinstance(model.optimizer, tf.keras.optimizers.Adam)


def test_trains_on_separable_data():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, size=256)
    features = {
        name: (labels * 1.5 + rng.normal(0, 1, size=256)).astype(np.float32)[:, None]
        for name in WDBC_FEATURES
    }
    model = build_model(WDBC.training)
    before = model.evaluate(features, labels, verbose=0, return_dict=True)
    model.fit(features, labels, epochs=5, batch_size=32, verbose=0)
    after = model.evaluate(features, labels, verbose=0, return_dict=True)
    assert after["loss"] < before["loss"]
    assert after["auc"] > 0.95
