"""tf_keras' code is left as it is by AutoGraph; the project's layers are still converted."""

import numpy as np
import tensorflow as tf
import tf_keras
from tensorflow.python.autograph.core import config
from tensorflow.python.autograph.impl import conversion

from components import autograph_rules


def _exempt_rules() -> list:
    return [
        rule for rule in config.CONVERSION_RULES
        if isinstance(rule, config.DoNotConvert) and rule.matches(autograph_rules.PACKAGE)
    ]


def test_the_rule_is_added_once_and_first():
    autograph_rules.skip_tf_keras()
    autograph_rules.skip_tf_keras()
    assert len(_exempt_rules()) == 1
    assert config.CONVERSION_RULES[0] is _exempt_rules()[0]


def test_tf_keras_functions_are_exempt_and_the_projects_are_not():
    autograph_rules.skip_tf_keras()
    assert conversion.is_allowlisted(tf_keras.layers.Dense.call)
    assert conversion.is_allowlisted(tf_keras.Model.train_step)
    assert not conversion.is_allowlisted(_Gate.call)


class _Gate(tf.keras.layers.Layer):
    """A layer branching on a tensor: it traces only if AutoGraph converts its `call`."""

    def call(self, x):
        if tf.reduce_sum(x) > 0:
            return x
        return -x


def test_a_projects_layer_with_tensor_control_flow_is_still_converted():
    autograph_rules.skip_tf_keras()
    inputs = tf.keras.Input(shape=(2,))
    model = tf.keras.Model(inputs, tf.keras.layers.Dense(1, activation="sigmoid")(_Gate()(inputs)))
    model.compile(optimizer=tf.keras.optimizers.SGD(0.5), loss="binary_crossentropy")
    x = np.array([[1.0, 0.0], [0.0, 1.0]] * 8, np.float32)
    y = np.array([[1.0], [0.0]] * 8, np.float32)
    before = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=5, batch_size=4, verbose=0)
    assert model.evaluate(x, y, verbose=0) < before
