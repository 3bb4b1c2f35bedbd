"""The IDC ExampleGen on a generated archive: every count exact, every quirk handled."""

import io
import json
import os
from pathlib import Path

import pytest
import tensorflow as tf
from PIL import Image
from tfx import v1 as tfx

from components.idc.archive import MIRROR_DIR, parse_patch_name
from components.idc.example_gen import (
    Executor,
    NoUsablePatchError,
    patient_classes,
    read_counts,
    top_level,
)
from components.idc.synth import manifest_path, synthesize
from components.split_assignment import assign
from components.split_check import check_splits

SPLITS = [("train", 8), ("eval", 1), ("test", 1)]


def _run(root: Path, out: Path) -> tfx.dsl.Artifact:
    examples = tfx.types.standard_artifacts.Examples()
    examples.uri = str(out)
    output_config = tfx.proto.Output(
        split_config=tfx.proto.SplitConfig(
            splits=[tfx.proto.SplitConfig.Split(name=n, hash_buckets=b) for n, b in SPLITS],
            partition_feature_name="patient_id",
        )
    )
    input_config = tfx.proto.Input(splits=[tfx.proto.Input.Split(name="all", pattern="*/*/*")])
    exec_properties = {
        "input_base": str(root),
        "input_config": _to_json(input_config),
        "output_config": _to_json(output_config),
        "output_data_format": 6,  # FORMAT_TF_EXAMPLE
        "output_file_format": 5,  # FORMAT_TFRECORDS_GZIP
    }
    Executor().Do({}, {"examples": [examples]}, exec_properties)
    return examples


def _to_json(message) -> str:
    from google.protobuf import json_format

    return json_format.MessageToJson(message, preserving_proto_field_name=True)


def _read(examples: tfx.dsl.Artifact) -> dict[str, list[tf.train.Example]]:
    result = {}
    for split, _ in SPLITS:
        files = tf.io.gfile.glob(os.path.join(examples.uri, f"Split-{split}", "*"))
        result[split] = [
            tf.train.Example.FromString(r.numpy())
            for r in tf.data.TFRecordDataset(files, compression_type="GZIP")
        ]
    return result


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    root = tmp_path_factory.mktemp("idc") / "archive"
    synthesize(root, patients=8, per_patient=40, seed=11)
    examples = _run(root, tmp_path_factory.mktemp("out"))
    manifest = json.loads(manifest_path(root).read_text())
    return root, examples, manifest, _read(examples)


def test_every_count_matches_what_was_planted(generated):
    _, examples, manifest, _ = generated
    counts = read_counts(examples.uri)
    assert counts["patches_kept"] == manifest["patches_kept"] == 320
    assert counts["small_kept"] == manifest["small_kept"] > 0
    assert counts["mirror_skipped"] == manifest["mirror_copies"] == 323
    assert counts["empty_skipped"] == manifest["empty"] == 1
    assert counts["undecodable_skipped"] == manifest["undecodable"] == 1
    assert counts["class_mismatch_skipped"] == manifest["class_mismatch"] == 1
    assert counts["stray_ignored"] == manifest["stray"] == 4
    assert counts["patients"] == 8
    assert counts["patches_per_patient"] == manifest["per_patient"]
    assert examples.get_int_custom_property("patches_kept") == 320


def test_examples_are_the_files_as_stored(generated):
    root, _, manifest, splits = generated
    everything = [e for split in splits.values() for e in split]
    assert len(everything) == manifest["patches_kept"]  # the mirror was not read twice
    seen = set()
    small = 0
    for example in everything:
        f = example.features.feature
        patient = f["patient_id"].bytes_list.value[0].decode()
        label = f["label"].int64_list.value[0]
        x, y = f["x"].int64_list.value[0], f["y"].int64_list.value[0]
        name = f"{patient}_idx5_x{x}_y{y}_class{label}.png"
        path = root / patient / str(label) / name
        content = f["image"].bytes_list.value[0]
        assert content == path.read_bytes()  # PNG bytes as stored
        with Image.open(io.BytesIO(content)) as image:
            assert (f["height"].int64_list.value[0], f["width"].int64_list.value[0]) == (
                image.height, image.width)
            small += image.size != (50, 50)
        seen.add(name)
    assert small == manifest["small_kept"]
    assert len(seen) == len(everything)
    mismatched = [p.name for p in (root).glob("*/0/*class1.png")]
    assert mismatched and not set(mismatched) & seen  # the mismatched file is not emitted
    assert all(parse_patch_name(n) for n in seen)
    assert not any(MIRROR_DIR in n for n in seen)


def test_splits_hold_whole_patients_as_assigned_and_none_is_empty(generated):
    root, examples, _, splits = generated
    examples.split_names = json.dumps([s for s, _ in SPLITS])
    proof = check_splits(examples, "patient_id", "label")
    assert proof["disjoint"]
    # 8 patients at 8/1/1: hash buckets had left a split empty; assigned, it is 6/1/1.
    assert [proof["splits"][s]["partitions"] for s, _ in SPLITS] == [6, 1, 1]
    assigned = assign(patient_classes(top_level(str(root))), SPLITS)
    for split, examples_of_split in splits.items():
        patients = {e.features.feature["patient_id"].bytes_list.value[0].decode()
                    for e in examples_of_split}
        assert patients == {p for p, s in assigned.items() if s == split}
        assert proof["splits"][split]["positive_partitions"] == proof["splits"][split][
            "partitions"]  # every generated patient has positive patches


def test_a_tree_without_usable_patches_is_refused(tmp_path):
    root = tmp_path / "archive"
    (root / "10253" / "0").mkdir(parents=True)
    (root / "10253" / "0" / "10253_idx5_x1_y1_class0.png").write_bytes(b"")
    (root / ".DS_Store").write_bytes(b"x")
    with pytest.raises(NoUsablePatchError, match=r"no usable patch under .*empty_skipped.: 1"):
        _run(root, tmp_path / "out")
