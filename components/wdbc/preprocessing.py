"""Transform for WDBC: z-scores with statistics of the train split (TFX analyses `train` only)."""

from __future__ import annotations

import tensorflow as tf
import tensorflow_transform as tft

from pipeline.config import WDBC_FEATURES, WDBC_LABEL


def preprocessing_fn(inputs: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
    outputs = {name: tft.scale_to_z_score(inputs[name]) for name in WDBC_FEATURES}
    # Absent at serving time; the Transform layer then drops this output.
    outputs[WDBC_LABEL] = inputs[WDBC_LABEL]
    return outputs
