"""The decision whether a run may go on to Transform: no anomalies, no patient leak, and
patients enough to train and bless on (components/cohort.py).

ExampleValidator only records anomalies; left alone, a run would train on broken data.
The gate records its verdict rather than failing, so that the nodes after it are skipped
(they sit in a Cond on the verdict) while the review report still runs and says why.
"""


import json
import os

import tensorflow as tf
from tensorflow_metadata.proto.v0 import anomalies_pb2
from tfx import v1 as tfx

from components import artifacts, cohort
from components.split_check import leaks

ANOMALIES_FILE = "SchemaDiff.pb"
_SEVERITY = {v: k for k, v in anomalies_pb2.AnomalyInfo.Severity.items()}


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


def describe(verdict: dict) -> str:
    """The reasons of a verdict, one line each."""
    lines = [
        f"  [{split}] {a['feature']}: {a['short_description']} ({a['description']})"
        for split, entries in verdict["anomalies"].items()
        for a in entries
    ]
    lines += [
        f"  [{pair}] {len(shared)} {verdict['partition_key']} value(s) in both splits: "
        f"{', '.join(shared[:10])}"
        for pair, shared in verdict["leaks"].items()
    ]
    lines += [f"  [{p['split'] or 'data'}] {p['message']}" for p in verdict.get("cohort", [])]
    return "\n".join(lines)


def decide(anomalies: tfx.dsl.Artifact, proof: dict, requirements: dict) -> dict:
    found = read_anomalies(anomalies)
    leaked = leaks(proof)
    too_few = cohort.problems(proof, requirements)
    return {
        "passed": not any(found.values()) and not leaked and not too_few,
        "anomalies": found,
        "leaks": leaked,
        "cohort": too_few,
        "blessing_evidence": cohort.rests_on(proof, requirements["blessing_split"]),
        "partition_key": proof["partition_key"],
    }


@tfx.dsl.components.component
def ValidationGate(
    anomalies: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.ExampleAnomalies],
    split_proof: tfx.dsl.components.InputArtifact[artifacts.SplitProof],
    verdict: tfx.dsl.components.OutputArtifact[artifacts.ValidationVerdict],
    requirements: tfx.dsl.components.Parameter[str],
) -> None:
    """requirements: cohort.requirements(profile), JSON."""
    result = decide(anomalies, artifacts.read_json(split_proof.uri), json.loads(requirements))
    artifacts.write_json(verdict.uri, result)
    verdict.set_int_custom_property("passed", int(result["passed"]))
