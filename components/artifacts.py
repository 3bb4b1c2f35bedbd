"""Artifact types of bcpipe's own components (JSON files under the artifact URI)."""

from __future__ import annotations

import json
import os

import tensorflow as tf
from tfx import v1 as tfx

REPORT_FILE = "result.json"


class SplitProof(tfx.dsl.Artifact):
    """Which partitions (patients, ids) each split holds, and that no two splits share one."""

    TYPE_NAME = "bcpipe.SplitProof"


class ValidationVerdict(tfx.dsl.Artifact):
    """The validation gate's decision and the anomalies behind it."""

    TYPE_NAME = "bcpipe.ValidationVerdict"


# The KFP UI shows an artifact by its type's schema title, only for these three (frontend
# src/components/viewers/MetricsVisualizations.tsx): HTML and Markdown read from the
# artifact's URI as one file, metrics from its custom properties, each under its
# `display_name` custom property.
class HtmlPage(tfx.dsl.Artifact):
    TYPE_NAME = "system.HTML"


class MarkdownPage(tfx.dsl.Artifact):
    TYPE_NAME = "system.Markdown"


class ScalarMetrics(tfx.dsl.Artifact):
    TYPE_NAME = "system.Metrics"


DISPLAY_NAME = "display_name"


def write_json(artifact_uri: str, payload: dict) -> str:
    tf.io.gfile.makedirs(artifact_uri)
    path = os.path.join(artifact_uri, REPORT_FILE)
    with tf.io.gfile.GFile(path, "w") as handle:
        json.dump(payload, handle, indent=2, sort_keys=True)
    return path


def read_json(artifact_uri: str) -> dict:
    with tf.io.gfile.GFile(os.path.join(artifact_uri, REPORT_FILE)) as handle:
        return json.load(handle)


def split_names(examples: tfx.types.Artifact) -> list[str]:
    return json.loads(examples.split_names)


def split_files(examples: tfx.types.Artifact, split: str) -> list[str]:
    return sorted(tf.io.gfile.glob(os.path.join(examples.uri, f"Split-{split}", "*")))
