"""The WDBC model averages tutorial 1D CNNs and learns from a few steps."""

import dataclasses

import numpy as np
import tensorflow as tf

from components.ensemble import MemberMean
from components.wdbc.model import build_model
from pipeline.config import WDBC, WDBC_FEATURES


def test_each_member_follows_the_tutorial():
    members = WDBC.training.ensemble_members
    assert members > 1
    model = build_model(WDBC.training)
    assert isinstance(model, MemberMean)
    convs = [layer for layer in model.layers if isinstance(layer, tf.keras.layers.Conv1D)]
    shapes = sorted((c.filters, c.kernel_size) for c in convs)
    assert shapes == [(32, (2,))] * members + [(64, (2,))] * members
    kinds = {type(layer).__name__ for layer in model.layers}
    assert {"BatchNormalization", "Dropout", "Dense", "Flatten"} <= kinds
    heads = [model.get_layer(f"member_{i}") for i in range(members)]
    assert all(head.activation is tf.keras.activations.sigmoid for head in heads)
    assert model.output_shape == (None, 1)
    assert model.output_names == ["probability"]
    assert isinstance(model.optimizer, tf.keras.optimizers.Adam)


def test_one_member_is_the_tutorial_network_alone():
    model = build_model(dataclasses.replace(WDBC.training, ensemble_members=1))
    assert not isinstance(model, MemberMean)
    assert model.layers[-1].name == "probability"
    assert model.layers[-1].activation is tf.keras.activations.sigmoid
    assert len([layer for layer in model.layers if isinstance(layer, tf.keras.layers.Conv1D)]) == 2


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
