"""Pushes a blessed model to `<serving_model_dir>/<version>/` so no server sees half of it.

TFX's Pusher copies straight into the version directory; TF Serving polls and may load it
half-written. Here the copy goes to a staging name TF Serving ignores and is renamed into
place. A model identical to the latest served version is not pushed twice.
"""


import datetime
import json
import os

import tensorflow as tf
from tfx import v1 as tfx

from components.baseline import SERVING_MODEL_DIR
from components.model_files import content_hash, copy_tree
from serving import layout


def _rename(src: str, dst: str) -> None:
    if "://" in src:  # object stores have no atomic directory rename
        tf.io.gfile.rename(src, dst)
    else:
        os.rename(src, dst)  # fails if dst exists and is not empty


def push(model_path: str, serving_model_dir: str, record: dict) -> tuple[int, bool]:
    """Returns (version, newly pushed)."""
    fingerprint = content_hash(model_path)
    latest = layout.latest_version(serving_model_dir)
    if latest is not None:
        served = layout.push_record(layout.version_dir(serving_model_dir, latest))
        if served and served.get("content_hash") == fingerprint:
            return latest, False
    tf.io.gfile.makedirs(serving_model_dir)
    version = (latest or 0) + 1
    staging = os.path.join(serving_model_dir, f"{layout.STAGING_PREFIX}{version}-{os.getpid()}")
    copy_tree(model_path, staging)
    record_path = os.path.join(staging, layout.PUSH_RECORD)
    tf.io.gfile.makedirs(os.path.dirname(record_path))
    with tf.io.gfile.GFile(record_path, "w") as handle:
        json.dump({**record, "content_hash": fingerprint}, handle, indent=2)
    while True:
        try:
            _rename(staging, layout.version_dir(serving_model_dir, version))
            return version, True
        except OSError:
            if not tf.io.gfile.exists(layout.version_dir(serving_model_dir, version)):
                raise
            version += 1  # another push took this number meanwhile


@tfx.dsl.components.component
def Pusher(
    model: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.Model],
    model_blessing: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.ModelBlessing],
    pushed_model: tfx.dsl.components.OutputArtifact[tfx.types.standard_artifacts.PushedModel],
    serving_model_dir: tfx.dsl.components.Parameter[str],
) -> None:
    if model_blessing.get_int_custom_property("blessed") != 1:
        pushed_model.set_int_custom_property("pushed", 0)
        return
    record = {
        "model_uri": model.uri,
        "model_artifact_id": model.id,
        "blessing_uri": model_blessing.uri,
        "pushed_at": datetime.datetime.now(datetime.timezone.utc).isoformat(),
    }
    version, fresh = push(os.path.join(model.uri, SERVING_MODEL_DIR), serving_model_dir, record)
    destination = layout.version_dir(serving_model_dir, version)
    pushed_model.set_int_custom_property("pushed", 1)
    pushed_model.set_int_custom_property("newly_pushed", int(fresh))
    pushed_model.set_string_custom_property("pushed_destination", destination)
    pushed_model.set_string_custom_property("pushed_version", str(version))
