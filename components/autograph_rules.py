"""Keeps AutoGraph out of tf_keras' own code, as TensorFlow keeps it out of `keras`.

AutoGraph rewrites Python control flow on tensors into graph ops; TensorFlow exempts its own
packages and `keras` (their code needs no rewriting), but not `tf_keras`, where the Keras 2
code lives under TF_USE_LEGACY_KERAS. So the first `fit` of a process transpiled several
thousand of tf_keras' functions (the train step, every layer's call, the metrics): the
WDBC model's first epoch took 28 s here, 4 s without that, and the next one 0.4 s. The
same code ran unconverted while it was the `keras` package. A layer's own `call` is still
converted (tf_keras converts it explicitly), but a model's `train_step` now runs as written,
as under Keras 2 in TF: its Python control flow must branch on Python values, as
`components/ensemble.py`'s does, not on tensors.
"""

from __future__ import annotations

# TensorFlow has no public API for a package-wide rule; `tf.autograph.experimental.
# do_not_convert` marks single functions, and these are tf_keras' own.
from tensorflow.python.autograph.core import config

PACKAGE = "tf_keras"


def skip_tf_keras() -> None:
    """Adds the rule once per process, ahead of the others (the first that matches wins)."""
    rules = config.CONVERSION_RULES
    if not any(isinstance(r, config.DoNotConvert) and r.matches(PACKAGE) for r in rules):
        config.CONVERSION_RULES = (config.DoNotConvert(PACKAGE), *rules)
