"""MemberMean serves the mean of its members and trains each as if it were alone."""

import numpy as np
import tensorflow as tf

from components.ensemble import MemberMean, mean_of_members


def _members(count: int):
    inputs = tf.keras.layers.Input(shape=(4,), name="x")
    layers = [tf.keras.layers.Dense(1, activation="sigmoid", name=f"m{i}") for i in range(count)]
    return inputs, layers, [layer(inputs) for layer in layers]


def _data(rows: int = 32):
    rng = np.random.default_rng(7)
    x = rng.normal(size=(rows, 4)).astype(np.float32)
    y = (x[:, 0] + 0.5 * rng.normal(size=rows) > 0).astype(np.float32)
    return x, y


def _compile(model):
    model.compile(optimizer=tf.keras.optimizers.Adam(0.05), loss="binary_crossentropy")
    return model


def test_serves_the_mean_of_the_members():
    tf.keras.utils.set_random_seed(0)
    inputs, layers, outputs = _members(3)
    model = mean_of_members(inputs, outputs)
    x, _ = _data()
    each = [layer(x).numpy() for layer in layers]
    np.testing.assert_allclose(model(x).numpy(), np.mean(each, axis=0), rtol=1e-6)
    assert len({round(float(e[0, 0]), 6) for e in each}) == 3  # the members differ


def test_each_member_trains_as_if_alone():
    tf.keras.utils.set_random_seed(0)
    inputs, layers, outputs = _members(3)
    model = _compile(mean_of_members(inputs, outputs))
    alone = []
    for layer in layers:
        single_inputs = tf.keras.layers.Input(shape=(4,))
        copy = tf.keras.layers.Dense(1, activation="sigmoid")
        single = tf.keras.Model(single_inputs, copy(single_inputs))
        copy.set_weights(layer.get_weights())
        alone.append((layer, copy, _compile(single)))
    x, y = _data()
    for _ in range(5):
        model.train_on_batch(x, y)
        for _, _, single in alone:
            single.train_on_batch(x, y)
    for layer, copy, _ in alone:
        for trained, reference in zip(layer.get_weights(), copy.get_weights(), strict=True):
            np.testing.assert_allclose(trained, reference, rtol=1e-5, atol=1e-6)


def test_evaluation_and_early_stopping_see_the_served_mean():
    tf.keras.utils.set_random_seed(0)
    inputs, _, outputs = _members(2)
    model = _compile(mean_of_members(inputs, outputs))
    x, y = _data()
    p = np.clip(model(x).numpy().reshape(-1).astype(np.float64), 1e-7, 1 - 1e-7)
    expected = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    loss = model.evaluate(x, y, verbose=0, return_dict=True)["loss"]
    np.testing.assert_allclose(loss, expected, rtol=1e-4)


def test_class_weights_reach_every_member():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(64, 4)).astype(np.float32)
    y = (np.arange(64) % 4 == 0).astype(np.float32)  # a quarter positive

    def bias_steps(class_weight):
        tf.keras.utils.set_random_seed(0)
        inputs, layers, outputs = _members(2)
        model = _compile(mean_of_members(inputs, outputs))
        start = [layer.get_weights()[1][0] for layer in layers]
        model.fit(x, y, batch_size=64, epochs=1, class_weight=class_weight, verbose=0)
        return [layer.get_weights()[1][0] - b for layer, b in zip(layers, start, strict=True)]

    # Unweighted, the negatives pull every member's bias down; positives weighted 10x push
    # every one up.
    assert all(step < 0 for step in bias_steps(None))
    assert all(step > 0 for step in bias_steps({0: 1.0, 1: 10.0}))


def test_one_member_is_a_plain_model():
    inputs, _, outputs = _members(1)
    model = mean_of_members(inputs, outputs)
    assert not isinstance(model, MemberMean)
    assert model.output_shape == (None, 1)
