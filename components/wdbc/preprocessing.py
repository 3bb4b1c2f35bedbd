"""Transform for WDBC: log1p, then z-scores with statistics of the train split (TFX analyses
`train` only)."""

from __future__ import annotations

import tensorflow as tf
import tensorflow_transform as tft

from pipeline.config import WDBC_FEATURES, WDBC_LABEL


def log_scaled(values: tf.Tensor) -> tf.Tensor:
    """log(1 + x): the areas, perimeters and their standard errors span two orders of
    magnitude, and z-scores of the raw values let the largest tumours dominate each feature
    (bench/README.md, Quality, has the measurement). The schema's domains start at 0; a
    negative value (an anomaly there) counts as 0, as log1p gives NaN below -1."""
    return tf.math.log1p(tf.maximum(values, 0.0))


def preprocessing_fn(inputs: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
    outputs = {name: tft.scale_to_z_score(log_scaled(inputs[name])) for name in WDBC_FEATURES}
    # Absent at serving time; the Transform layer then drops this output.
    outputs[WDBC_LABEL] = inputs[WDBC_LABEL]
    return outputs
