"""Which pushed versions a server can serve: whole on disk, loading and warming up.

One rule for everything that names a served version: the server's version policy, the
pipeline's baseline (what clients get) and the labels `bcpipe serving-config` writes.
"""

from __future__ import annotations

import logging
import os
import re

import tensorflow as tf

from serving import layout
from serving.servable import Servable, read_meta_graph

log = logging.getLogger(__name__)

_SHARD = re.compile(r"^variables\.data-\d+-of-(\d+)$")


def missing_part(version_path: str) -> str | None:
    """What keeps a version directory from holding a whole SavedModel, or None."""
    try:
        meta_graph = read_meta_graph(version_path)
    except (ValueError, OSError, tf.errors.OpError):
        return "saved_model.pb does not parse"
    if not any(node.HasField("variable") for node in meta_graph.object_graph_def.nodes):
        return None
    try:
        names = [
            n.rstrip("/") for n in tf.io.gfile.listdir(os.path.join(version_path, "variables"))
        ]
    except tf.errors.OpError:
        return "variables/ is missing"
    if "variables.index" not in names:
        return "variables/variables.index is missing"
    shards = [int(m.group(1)) for m in map(_SHARD.match, names) if m]
    if not shards or len(set(shards)) != 1 or len(shards) != shards[0]:
        return "variables/ lacks data shards"
    return None


def is_complete(version_path: str) -> bool:
    return missing_part(version_path) is None


def load(name: str, version: int, path: str, threads: int = 0,
         warmup_iterations: int = 1) -> tuple[Servable, int]:
    """A version loaded and warmed up, with how many warmup records it replayed: what makes
    it servable. Raises whatever stops it."""
    servable = Servable(name, version, path, threads)
    return servable, servable.warm_up(warmup_iterations)


def servable_versions(model_dir: str, most: int) -> list[int]:
    """The newest `most` versions that are complete, load and warm up, oldest first:
    broken ones are passed over, as the server passes them over."""
    name = os.path.basename(model_dir.rstrip("/"))
    found = []
    for version in reversed(layout.list_versions(model_dir)):
        if len(found) == most:
            break
        path = layout.version_dir(model_dir, version)
        if not is_complete(path):
            log.warning("%s: not a complete SavedModel; passed over", path)
            continue
        try:
            load(name, version, path)
        except Exception as err:  # noqa: BLE001 - any failure to load passes it over
            log.warning("%s does not load (%s: %s); passed over", path, type(err).__name__, err)
            continue
        found.append(version)
    return found[::-1]


def latest_servable_version(model_dir: str) -> int | None:
    """The version a server started now serves by default; a pipeline's baseline."""
    found = servable_versions(model_dir, 1)
    return found[0] if found else None
