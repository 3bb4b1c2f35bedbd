"""Stops a run before Transform when ExampleValidator found anomalies.

ExampleValidator only records anomalies; left alone, a run would train on broken data.
"""


import os

import tensorflow as tf
from tensorflow_metadata.proto.v0 import anomalies_pb2
from tfx import v1 as tfx

from components import artifacts

ANOMALIES_FILE = "SchemaDiff.pb"
_SEVERITY = {v: k for k, v in anomalies_pb2.AnomalyInfo.Severity.items()}


class DataRejectedError(RuntimeError):
    """The data broke the curated schema; the message lists every anomaly."""


def _entry(feature: str, info: anomalies_pb2.AnomalyInfo) -> dict:
    return {
        "feature": feature,
        "severity": _SEVERITY.get(info.severity, str(info.severity)),
        "description": info.description,
        "short_description": info.short_description,
        "types": [anomalies_pb2.AnomalyInfo.Type.Name(r.type) for r in info.reason],
    }


def read_anomalies(anomalies: tfx.dsl.Artifact) -> dict[str, list[dict]]:
    """Per split, each anomaly with its feature, severity, description and type codes."""
    found: dict[str, list[dict]] = {}
    for split in artifacts.split_names(anomalies):
        path = os.path.join(anomalies.uri, f"Split-{split}", ANOMALIES_FILE)
        proto = anomalies_pb2.Anomalies()
        with tf.io.gfile.GFile(path, "rb") as handle:
            proto.ParseFromString(handle.read())
        entries = [_entry(f, info) for f, info in sorted(proto.anomaly_info.items())]
        if proto.HasField("dataset_anomaly_info"):
            entries.append(_entry("(dataset)", proto.dataset_anomaly_info))
        found[split] = entries
    return found


def describe(found: dict[str, list[dict]]) -> str:
    return "\n".join(
        f"  [{split}] {a['feature']}: {a['short_description']} ({a['description']})"
        for split, entries in found.items()
        for a in entries
    )


@tfx.dsl.components.component
def ValidationGate(
    anomalies: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.ExampleAnomalies],
    verdict: tfx.dsl.components.OutputArtifact[artifacts.ValidationVerdict],
) -> None:
    found = read_anomalies(anomalies)
    passed = not any(found.values())
    artifacts.write_json(verdict.uri, {"passed": passed, "anomalies": found})
    verdict.set_int_custom_property("passed", int(passed))
    if not passed:
        raise DataRejectedError("the data does not match the curated schema:\n" + describe(found))
