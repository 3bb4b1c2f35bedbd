"""The split proof: disjoint splits pass, a shared patient stops the run."""

import json
from pathlib import Path

import pytest
import tensorflow as tf
from tfx import v1 as tfx

from components.split_check import SplitCheck, SplitLeakError, check_splits
from pipeline import metadata


def _examples(root: Path, splits: dict[str, list], key: str = "patient_id") -> Path:
    """Gzipped TFRecord splits as ExampleGen writes them, one example per value."""
    options = tf.io.TFRecordOptions(compression_type="GZIP")
    for split, values in splits.items():
        (root / f"Split-{split}").mkdir(parents=True)
        with tf.io.TFRecordWriter(str(root / f"Split-{split}" / "data.gz"), options) as writer:
            for value in values:
                example = tf.train.Example()
                feature = example.features.feature[key]
                if isinstance(value, int):
                    feature.int64_list.value.append(value)
                else:
                    feature.bytes_list.value.append(value.encode())
                writer.write(example.SerializeToString())
    return root


def _artifact(root: Path, names: list[str]) -> tfx.dsl.Artifact:
    artifact = tfx.types.standard_artifacts.Examples()
    artifact.uri = str(root)
    artifact.split_names = json.dumps(names)
    return artifact


def test_disjoint_splits_are_proved(tmp_path):
    root = _examples(tmp_path, {"train": ["10253", "10253", "9036"], "eval": ["8863"],
                                "test": ["12626", "12626"]})
    proof = check_splits(_artifact(root, ["train", "eval", "test"]), "patient_id")
    assert proof["disjoint"]
    assert proof["splits"]["train"] == {"examples": 3, "partitions": 2,
                                        "values": ["10253", "9036"]}
    assert set(proof["overlaps"]) == {"eval&test", "eval&train", "test&train"}


def _run(tmp_path: Path, root: Path, names: list[str]) -> None:
    importer = tfx.dsl.Importer(
        source_uri=str(root), artifact_type=tfx.types.standard_artifacts.Examples,
        properties={"split_names": json.dumps(names)},
    ).with_id("examples")
    check = SplitCheck(examples=importer.outputs["result"], partition_key="patient_id")
    tfx.orchestration.LocalDagRunner().run(
        tfx.dsl.Pipeline(
            pipeline_name="split-check", pipeline_root=str(tmp_path / "root"),
            components=[importer, check],
            metadata_connection_config=metadata.sqlite_config(tmp_path / "m.sqlite"),
        )
    )


def test_a_patient_in_two_splits_stops_the_run(tmp_path):
    root = _examples(tmp_path / "ex", {"train": ["10253", "9036"], "eval": ["9036", "8863"]})
    with pytest.raises(SplitLeakError, match=r"'eval&train': \['9036'\]"):
        _run(tmp_path, root, ["train", "eval"])
    store = metadata.open_store(tmp_path / "m.sqlite")
    nodes = metadata.node_runs(store, metadata.run_ids(store, "split-check")[-1])
    assert nodes["SplitCheck"].state == "FAILED"


def test_int_partition_keys(tmp_path):
    root = _examples(tmp_path, {"train": [1, 2], "test": [2]}, key="id")
    proof = check_splits(_artifact(root, ["train", "test"]), "id")
    assert not proof["disjoint"] and proof["overlaps"] == {"test&train": ["2"]}
