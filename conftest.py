"""TF_USE_LEGACY_KERAS must be set before TensorFlow is imported; `make test` exports it,
and this covers a bare `pytest` run (conftest is imported before any test module)."""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
