"""The split proof: disjoint splits pass, a shared patient stops the run."""

import json
from pathlib import Path

import tensorflow as tf
from tfx import v1 as tfx

from components.artifacts import ValidationVerdict, read_json
from components.split_check import SplitCheck, check_splits, leaks
from components.validation_gate import ANOMALIES_FILE, ValidationGate
from pipeline import metadata
from pipeline.pipeline import gate_passed


def _examples(root: Path, splits: dict[str, list], key: str = "patient_id") -> Path:
    """Gzipped TFRecord splits as ExampleGen writes them, one example per value; a value
    (patient, label) gives the example that label, a bare value label 0."""
    options = tf.io.TFRecordOptions(compression_type="GZIP")
    for split, values in splits.items():
        (root / f"Split-{split}").mkdir(parents=True)
        with tf.io.TFRecordWriter(str(root / f"Split-{split}" / "data.gz"), options) as writer:
            for value in values:
                value, label = value if isinstance(value, tuple) else (value, 0)
                example = tf.train.Example()
                feature = example.features.feature[key]
                if isinstance(value, int):
                    feature.int64_list.value.append(value)
                else:
                    feature.bytes_list.value.append(value.encode())
                example.features.feature["label"].int64_list.value.append(label)
                writer.write(example.SerializeToString())
    return root


def _artifact(root: Path, names: list[str]) -> tfx.dsl.Artifact:
    artifact = tfx.types.standard_artifacts.Examples()
    artifact.uri = str(root)
    artifact.split_names = json.dumps(names)
    return artifact


def test_disjoint_splits_are_proved_and_their_positives_counted(tmp_path):
    root = _examples(tmp_path, {"train": [("10253", 1), "10253", ("9036", 1), ("9036", 1)],
                                "eval": ["8863"], "test": ["12626", "12626"]})
    proof = check_splits(_artifact(root, ["train", "eval", "test"]), "patient_id", "label")
    assert proof["disjoint"]
    assert proof["splits"]["train"] == {"examples": 4, "partitions": 2, "positives": 3,
                                        "positive_partitions": 2, "values": ["10253", "9036"]}
    assert proof["splits"]["eval"]["positives"] == proof["splits"]["eval"]["positive_partitions"]
    assert proof["splits"]["eval"]["positives"] == 0
    assert set(proof["overlaps"]) == {"eval&test", "eval&train", "test&train"}


@tfx.dsl.components.component
def _Downstream(verdict: tfx.dsl.components.InputArtifact[ValidationVerdict]) -> None:
    """Stands for Transform and what follows it."""


def _run(tmp_path: Path, examples: Path, names: list[str]) -> dict[str, metadata.NodeRun]:
    """SplitCheck and the gate as create_pipeline wires them, on hand-made splits."""
    anomalies = tmp_path / "anomalies"
    for name in names:
        (anomalies / f"Split-{name}").mkdir(parents=True)
        (anomalies / f"Split-{name}" / ANOMALIES_FILE).write_bytes(b"")  # no anomalies
    split_names = {"split_names": json.dumps(names)}
    imported = {
        key: tfx.dsl.Importer(source_uri=str(uri), artifact_type=kind, properties=split_names)
        .with_id(f"import_{key}")
        for key, uri, kind in [
            ("examples", examples, tfx.types.standard_artifacts.Examples),
            ("anomalies", anomalies, tfx.types.standard_artifacts.ExampleAnomalies),
        ]
    }
    check = SplitCheck(examples=imported["examples"].outputs["result"], partition_key="patient_id",
                       label_key="label")
    evidence = {"patients": 1, "positive_patients": 1, "positive_examples": 1,
                "negative_examples": 1}
    gate = ValidationGate(
        anomalies=imported["anomalies"].outputs["result"], split_proof=check.outputs["proof"],
        requirements=json.dumps({"splits": [[n, 1] for n in names], "blessing_split": names[-1],
                                 "evidence": evidence}),
    )
    with gate_passed(gate):
        downstream = _Downstream(verdict=gate.outputs["verdict"])
    tfx.orchestration.LocalDagRunner().run(
        tfx.dsl.Pipeline(
            pipeline_name="split-check", pipeline_root=str(tmp_path / "root"),
            components=[*imported.values(), check, gate, downstream],
            metadata_connection_config=metadata.sqlite_config(tmp_path / "m.sqlite"),
        )
    )
    store = metadata.open_store(tmp_path / "m.sqlite")
    return metadata.node_runs(store, metadata.run_ids(store, "split-check")[-1])


def test_a_patient_in_two_splits_stops_the_run_at_the_gate(tmp_path):
    root = _examples(tmp_path / "ex", {"train": [("10253", 1), "9036"],
                                       "eval": ["9036", ("8863", 1)]})
    nodes = _run(tmp_path, root, ["train", "eval"])
    verdict = read_json(nodes["ValidationGate"].outputs["verdict"][0].uri)
    assert not verdict["passed"] and verdict["leaks"] == {"eval&train": ["9036"]}
    assert "_Downstream" not in nodes or nodes["_Downstream"].state not in ("COMPLETE", "CACHED")


def test_disjoint_hand_made_splits_go_on(tmp_path):
    root = _examples(tmp_path / "ex", {"train": [("10253", 1), "9036"],
                                       "eval": ["8863", ("8863", 1)]})
    nodes = _run(tmp_path, root, ["train", "eval"])
    assert nodes["_Downstream"].state == "COMPLETE"


def test_int_partition_keys(tmp_path):
    root = _examples(tmp_path, {"train": [1, 2], "test": [2]}, key="id")
    proof = check_splits(_artifact(root, ["train", "test"]), "id", "label")
    assert not proof["disjoint"] and proof["overlaps"] == {"test&train": ["2"]}
    assert leaks(proof) == {"test&train": ["2"]}
