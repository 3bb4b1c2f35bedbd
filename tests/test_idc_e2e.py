"""`bcpipe run idc` end to end on a generated archive with every quirk of the real one."""

import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_model_analysis as tfma
from PIL import Image
from sklearn.metrics import roc_auc_score

from components.idc.synth import synthesize
from components.report import files
from pipeline import metadata
from pipeline.cli import EXIT_OK
from pipeline.config import IDC, IDC_EDGE, IDC_FULL, IDC_PATCH_SIZE, IDC_PATCH_SIZE_SLICE
from serving import layout
from serving.signatures import (
    EXAMPLES_INPUT,
    LABEL,
    PROBABILITY,
    SERVING_DEFAULT,
    SERVING_RAW,
    read_model_info,
)

pytestmark = pytest.mark.e2e
PIPELINE = "bcpipe-idc"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("idc-e2e")
    manifest = synthesize(root / "archive", patients=30, per_patient=100, seed=5)
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "run", "idc", "--input", str(root / "archive"),
         "--work-dir", str(root / "work"), "--serving-base", str(root / "serving"),
         "--train-steps", "200"],
        capture_output=True, text=True, env=env, timeout=1500,
    )
    assert result.returncode == EXIT_OK, result.stdout + result.stderr
    store = metadata.open_store(root / "work" / PIPELINE / "metadata.sqlite")
    nodes = metadata.node_runs(store, metadata.run_ids(store, PIPELINE)[-1])
    return root, manifest, result, nodes


def _split(nodes, name: str) -> list[bytes]:
    uri = nodes["IdcExampleGen"].outputs["examples"][0].uri
    files = tf.io.gfile.glob(os.path.join(uri, f"Split-{name}", "*"))
    return [r.numpy() for r in tf.data.TFRecordDataset(files, compression_type="GZIP")]


def test_ingestion_counts_are_reported_and_kept(run):
    _, manifest, result, nodes = run
    examples = nodes["IdcExampleGen"].outputs["examples"][0]
    assert metadata.custom_int(examples, "patches_kept") == manifest.patches_kept == 3000
    assert metadata.custom_int(examples, "mirror_skipped") == manifest.mirror_copies
    assert metadata.custom_int(examples, "class_mismatch_skipped") == 1
    assert f"patches kept {manifest.patches_kept}" in result.stdout
    assert f"mirror copies skipped {manifest.mirror_copies}" in result.stdout


def test_no_patient_crosses_splits(run):
    _, _, _, nodes = run
    proof = nodes["SplitCheck"].outputs["proof"][0]
    with open(os.path.join(proof.uri, "result.json")) as handle:
        result = json.load(handle)
    assert result["disjoint"] and result["partition_key"] == "patient_id"
    patients = [set(s["values"]) for s in result["splits"].values()]
    assert sum(map(len, patients)) == len(set().union(*patients)) == 30


def test_whole_patients_in_the_profiles_proportions_and_the_blessing_says_on_how_many(run):
    _, _, result, nodes = run
    proof = nodes["SplitCheck"].outputs["proof"][0]
    with open(os.path.join(proof.uri, "result.json")) as handle:
        splits = json.load(handle)["splits"]
    assert [splits[name]["partitions"] for name, _ in IDC.split_buckets] == [21, 3, 6]
    test = splits["test"]
    assert (f"model BLESSED on the test split, 6 patients ({test['positive_partitions']} with "
            f"label 1), {test['examples']:,} examples ({test['positives']:,} with label 1):"
            ) in result.stdout


def test_pushed_model_separates_the_test_split(run):
    root, _, _, nodes = run
    model_dir = str(root / "serving" / "idc_patch")
    assert layout.list_versions(model_dir) == [1]
    serialized = _split(nodes, "test")
    features = [tf.train.Example.FromString(s).features.feature for s in serialized]
    labels = np.array([f["label"].int64_list.value[0] for f in features])
    assert 0 < labels.sum() < len(labels), "the test split needs both classes"
    model = tf.saved_model.load(layout.version_dir(model_dir, 1))
    by_examples = model.signatures[SERVING_DEFAULT](**{EXAMPLES_INPUT: tf.constant(serialized)})
    assert roc_auc_score(labels, by_examples[PROBABILITY].numpy()) >= 0.9

    pngs = tf.constant([f["image"].bytes_list.value[0] for f in features])
    by_raw = model.signatures[SERVING_RAW](image=pngs)
    np.testing.assert_allclose(by_raw[PROBABILITY], by_examples[PROBABILITY], atol=1e-6)
    np.testing.assert_array_equal(by_raw[LABEL], by_examples[LABEL])
    small = [i for i, f in enumerate(features) if f["height"].int64_list.value[0] < 50
             or f["width"].int64_list.value[0] < 50]
    for i in small[:3]:  # an edge patch is answered as it is, padded inside the model
        with Image.open(io.BytesIO(pngs[i].numpy())) as image:
            assert image.size != (50, 50)


def test_classes_weighed_as_the_train_split_balances_them_and_the_card_says_so(run):
    root, _, _, nodes = run
    train = np.array([tf.train.Example.FromString(s).features.feature["label"].int64_list.value[0]
                      for s in _split(nodes, "train")])
    weights = read_model_info(layout.version_dir(str(root / "serving" / "idc_patch"), 1))[
        "class_weights"]
    assert weights == pytest.approx({str(c): train.size / (2 * np.sum(train == c)) for c in (0, 1)})
    with open(os.path.join(nodes["ReviewReport"].outputs["report"][0].uri,
                           files.MODEL_CARD_JSON)) as handle:
        card = json.load(handle)
    assert card["training_data"]["class_weights"] == weights
    assert any("class weights" in c for c in card["caveats_and_recommendations"])


def test_evaluation_and_report_slice_full_and_edge_patches(run):
    _, _, _, nodes = run
    features = [tf.train.Example.FromString(s).features.feature
                for s in _split(nodes, IDC.blessing_split)]
    edge = sum(min(f["height"].int64_list.value[0], f["width"].int64_list.value[0])
               < IDC_PATCH_SIZE for f in features)
    assert 0 < edge < len(features), "the blessing split needs full and edge patches"
    expected = {IDC_EDGE: edge, IDC_FULL: len(features) - edge}

    counts = {}
    for sliced in tfma.load_metrics(nodes["Evaluator"].outputs["evaluation"][0].uri):
        key = dict(tfma.slicer.slicer_lib.deserialize_slice_key(sliced.slice_key))
        if IDC_PATCH_SIZE_SLICE.key in key:
            counts[key[IDC_PATCH_SIZE_SLICE.key]] = next(
                e.value.double_value.value for e in sliced.metric_keys_and_values
                if e.key.name == "example_count")
    assert counts == expected

    report_dir = nodes["ReviewReport"].outputs["report"][0].uri
    rows = {r["slice"]: r["examples"] for r in files.read(report_dir)["model"]["slices"]["rows"]
            if r["split"] == IDC.blessing_split and r["feature"] == IDC_PATCH_SIZE_SLICE.key}
    assert rows == {f"{IDC_PATCH_SIZE_SLICE.key} = {k}": v for k, v in expected.items()}
    with open(os.path.join(report_dir, files.REPORT_HTML)) as handle:
        page = handle.read()
    assert f"By {IDC_PATCH_SIZE_SLICE.key}, worst" in page and f"= {IDC_EDGE}</td>" in page
