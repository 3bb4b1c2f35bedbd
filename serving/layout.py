"""The push layout TF Serving's file-system source polls: `<base>/<model_name>/<version>/`.

A version is an all-digit directory holding `saved_model.pb`. Pushes are staged under a
dot-name (which TF Serving ignores) and renamed into place, so a poller never sees half.
"""

from __future__ import annotations

import json
import os

import tensorflow as tf

from serving.warmup import ASSETS_EXTRA

SAVED_MODEL_FILE = "saved_model.pb"
STAGING_PREFIX = ".staging-"
# What the Pusher records in each version it writes (which model and blessing it came from),
# relative to the version directory; not part of the model's content hash.
PUSH_RECORD = os.path.join(ASSETS_EXTRA, "bcpipe_push.json")


def list_versions(model_dir: str) -> list[int]:
    """Complete versions under `model_dir`, oldest first; none when it does not exist."""
    if not tf.io.gfile.isdir(model_dir):
        return []
    versions = []
    for name in tf.io.gfile.listdir(model_dir):
        name = name.rstrip("/")
        if name.isdigit() and tf.io.gfile.exists(os.path.join(model_dir, name, SAVED_MODEL_FILE)):
            versions.append(int(name))
    return sorted(versions)


def latest_version(model_dir: str) -> int | None:
    versions = list_versions(model_dir)
    return versions[-1] if versions else None


def version_dir(model_dir: str, version: int) -> str:
    return os.path.join(model_dir, str(version))


def push_record(version_path: str) -> dict | None:
    path = os.path.join(version_path, PUSH_RECORD)
    if not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path) as handle:
        return json.load(handle)
