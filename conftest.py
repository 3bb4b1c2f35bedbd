"""TF_USE_LEGACY_KERAS must be set before TensorFlow is imported; `make test` exports it,
and this covers a bare `pytest` run (conftest is imported before any test module).
GRPC_EXPERIMENTS likewise before grpc: the servers the tests start in this process then run
with what `bcpipe serve` runs with."""

import os

from pipeline.config import SERVING

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("GRPC_EXPERIMENTS", SERVING.grpc_experiments)
