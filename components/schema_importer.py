"""Imports the curated schema, keyed by its content so that editing it re-runs what follows.

TFX's ImportSchemaGen is cached on the file's path alone: an edited schema would silently
reuse the old one.
"""

import hashlib
import os
from pathlib import Path

import tensorflow as tf
import tensorflow_data_validation as tfdv
from tfx import v1 as tfx

from pipeline.config import PROJECT_ROOT

SCHEMA_FILE = "schema.pbtxt"


def fingerprint(schema_file: Path) -> str:
    return "sha256:" + hashlib.sha256(schema_file.read_bytes()).hexdigest()


@tfx.dsl.components.component
def SchemaImporter(
    schema: tfx.dsl.components.OutputArtifact[tfx.types.standard_artifacts.Schema],
    schema_file: tfx.dsl.components.Parameter[str],
    schema_fingerprint: tfx.dsl.components.Parameter[str],
) -> None:
    # A relative path names a file of the project tree (a compiled Kubeflow pipeline refers
    # to the schema baked into the image this way).
    if not os.path.isabs(schema_file) and "://" not in schema_file:
        schema_file = str(PROJECT_ROOT / schema_file)
    with tf.io.gfile.GFile(schema_file, "rb") as handle:
        content = handle.read()
    found = "sha256:" + hashlib.sha256(content).hexdigest()
    if found != schema_fingerprint:
        raise ValueError(
            f"{schema_file} is not the schema this pipeline was compiled with "
            f"({found} != {schema_fingerprint}); rebuild the image or recompile"
        )
    tfdv.load_schema_text(schema_file)  # refuses a malformed schema before anything uses it
    target = os.path.join(schema.uri, SCHEMA_FILE)
    with tf.io.gfile.GFile(target, "wb") as handle:
        handle.write(content)
    schema.set_string_custom_property("fingerprint", found)
    schema.set_string_custom_property("source", schema_file)
