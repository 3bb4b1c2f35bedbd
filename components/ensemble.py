"""A model that serves the mean of several independently trained members' probabilities."""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf


class MemberMean(tf.keras.Model):
    """P(malignant) as the mean of its members' P(malignant).

    Each member is fitted on its own loss, as if trained alone (the gradient of the sum of
    their losses reaches each member's weights as its own loss's gradient): fitted on the
    mean instead, they would be one wider network that co-adapts, not an ensemble. Calling
    the model, evaluating it and early stopping on it all see the mean, which is what is
    served; the training `loss` logged is the members' mean loss.
    """

    def __init__(self, inputs, members: Sequence[tf.Tensor], **kwargs):
        super().__init__(
            inputs=inputs,
            outputs=tf.keras.layers.Average(name="probability")(list(members)),
            **kwargs,
        )
        self.member_model = tf.keras.Model(inputs, list(members))

    def train_step(self, data):
        x, y, weight = tf.keras.utils.unpack_x_y_sample_weight(data)
        count = len(self.member_model.outputs)
        with tf.GradientTape() as tape:
            outputs = self.member_model(x, training=True)
            # One loss call over the members' outputs end to end: the mean of their losses.
            mean_loss = self.compiled_loss(
                tf.concat([y] * count, axis=0),
                tf.concat(outputs, axis=0),
                None if weight is None else tf.concat([weight] * count, axis=0),
            )
            total = count * mean_loss
            if self.losses:
                total += tf.add_n(self.losses)
        self.optimizer.minimize(total, self.trainable_variables, tape=tape)
        return self.compute_metrics(x, y, tf.add_n(outputs) / count, weight)


def mean_of_members(inputs, members: Sequence[tf.Tensor]) -> tf.keras.Model:
    """The model over `members` (outputs built on `inputs`): one member is a plain model."""
    if len(members) == 1:
        return tf.keras.Model(inputs=inputs, outputs=members[0])
    return MemberMean(inputs, members)
