"""Transform for IDC: decode each PNG, pad edge patches to 50x50, keep pixels as integers.

Pixels stay 0..255 integers on disk (compact, and gzip shrinks them further); the model
scales them in its graph, so serving needs no extra step.
"""

from __future__ import annotations

import tensorflow as tf

from pipeline.config import IDC_LABEL, IDC_PATCH_SIZE

PIXELS = "pixels"
PIXEL_COUNT = IDC_PATCH_SIZE * IDC_PATCH_SIZE * 3
# Slides are white where there is no tissue; padding with white adds no fake structure.
PAD_VALUE = 255


def decode_and_pad(png: tf.Tensor) -> tf.Tensor:
    """One PNG -> flat int64 [50*50*3], cropped if larger, padded white if smaller."""
    image = tf.io.decode_png(png, channels=3)
    image = image[:IDC_PATCH_SIZE, :IDC_PATCH_SIZE]
    height, width = tf.shape(image)[0], tf.shape(image)[1]
    padded = tf.pad(
        image,
        [[0, IDC_PATCH_SIZE - height], [0, IDC_PATCH_SIZE - width], [0, 0]],
        constant_values=PAD_VALUE,
    )
    return tf.reshape(tf.cast(padded, tf.int64), [PIXEL_COUNT])


def preprocessing_fn(inputs: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
    pngs = tf.reshape(inputs["image"], [-1])
    pixels = tf.map_fn(
        decode_and_pad, pngs, fn_output_signature=tf.TensorSpec([PIXEL_COUNT], tf.int64)
    )
    # Absent at serving time; the Transform layer then drops this output.
    return {PIXELS: pixels, IDC_LABEL: inputs[IDC_LABEL]}
