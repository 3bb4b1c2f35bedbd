"""`bcpipe run wdbc` end to end, as a user runs it: a subprocess, real data, real exit codes.

One work dir carries the runs in order: first push, a re-run that only re-evaluates
against the model now served, a fully cached run, then a broken span stopped by the gate.
"""

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from sklearn.metrics import roc_auc_score

from components.report import files
from pipeline import metadata
from pipeline.cli import EXIT_OK, EXIT_REJECTED
from pipeline.config import DATA_DIR, WDBC, WDBC_FEATURES
from serving import layout
from serving.signatures import (
    EXAMPLES_INPUT,
    LABEL,
    PROBABILITY,
    SERVING_DEFAULT,
    read_model_info,
)

pytestmark = pytest.mark.e2e
TRAIN_STEPS = "300"
PIPELINE = "bcpipe-wdbc"


def bcpipe(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *args],
        capture_output=True, text=True, env=env, timeout=1200,
    )


class Runs:
    def __init__(self, root: Path):
        self.work = root / "work"
        self.serving = root / "serving"
        self.data = root / "data"
        shutil.copytree(DATA_DIR / "wdbc", self.data)
        self.results: dict[str, subprocess.CompletedProcess] = {}
        self.first_nodes: dict[str, metadata.NodeRun] = {}

    def run(self, name: str, data: Path | None = None) -> subprocess.CompletedProcess:
        result = bcpipe(
            "run", "wdbc", "--input", str(data or self.data), "--work-dir", str(self.work),
            "--serving-base", str(self.serving), "--train-steps", TRAIN_STEPS,
        )
        self.results[name] = result
        return result

    def latest_nodes(self) -> dict[str, metadata.NodeRun]:
        store = metadata.open_store(self.work / PIPELINE / "metadata.sqlite")
        return metadata.node_runs(store, metadata.run_ids(store, PIPELINE)[-1])

    @property
    def model_dir(self) -> str:
        return str(self.serving / "wdbc")


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Runs:
    runs = Runs(tmp_path_factory.mktemp("wdbc-e2e"))
    first = runs.run("first")
    assert first.returncode == EXIT_OK, first.stdout + first.stderr
    runs.first_nodes = runs.latest_nodes()
    return runs


def _test_split_examples(nodes: dict[str, metadata.NodeRun]) -> list[bytes]:
    examples_uri = nodes["CsvExampleGen"].outputs["examples"][0].uri
    files = tf.io.gfile.glob(os.path.join(examples_uri, "Split-test", "*"))
    return [r.numpy() for r in tf.data.TFRecordDataset(files, compression_type="GZIP")]


def test_first_run_pushes_a_model_that_separates_the_test_split(runs):
    out = runs.results["first"].stdout
    assert "model BLESSED" in out and "baseline: none served yet" in out
    for metric in ("accuracy", "auc", "sensitivity", "specificity"):
        assert metric in out
    assert layout.list_versions(runs.model_dir) == [1]

    serialized = _test_split_examples(runs.first_nodes)
    labels = np.array([
        tf.train.Example.FromString(s).features.feature["diagnosis"].int64_list.value[0]
        for s in serialized
    ])
    assert 30 < len(serialized) < 110 and 0 < labels.sum() < len(labels)
    model = tf.saved_model.load(layout.version_dir(runs.model_dir, 1))
    answer = model.signatures[SERVING_DEFAULT](**{EXAMPLES_INPUT: tf.constant(serialized)})
    probability = answer[PROBABILITY].numpy()
    assert probability.shape == labels.shape and probability.dtype == np.float32
    assert roc_auc_score(labels, probability) >= 0.97
    info = read_model_info(layout.version_dir(runs.model_dir, 1))
    np.testing.assert_array_equal(
        answer[LABEL].numpy(), (probability >= info["threshold"]).astype(int)
    )
    # The model records what it was trained with: the run's steps, not the config's.
    assert info["training"]["train_steps"] == int(TRAIN_STEPS) != WDBC.training.train_steps
    members = info["training"]["ensemble_members"]
    assert members == WDBC.training.ensemble_members
    report_dir = runs.first_nodes["ReviewReport"].outputs["report"][0].uri
    with open(os.path.join(report_dir, files.MODEL_CARD_JSON)) as handle:
        card = json.load(handle)
    assert card["model_details"]["type"].startswith(f"{members} one-dimensional")
    assert card["model_details"]["operating_threshold"] == info["threshold"]
    # Trained unweighted: the probability is the data's, and the card adds no caveat on it.
    assert info["class_weights"] is None and card["training_data"]["class_weights"] is None
    assert not any("class weights" in c for c in card["caveats_and_recommendations"])


def test_no_patient_id_crosses_splits(runs):
    proof = runs.first_nodes["SplitCheck"].outputs["proof"][0]
    assert metadata.custom_int(proof, "disjoint") == 1
    with open(os.path.join(proof.uri, "result.json")) as handle:
        result = json.load(handle)
    ids = [set(s["values"]) for s in result["splits"].values()]
    assert sum(len(i) for i in ids) == len(set().union(*ids)) == 569
    assert set(result["splits"]) == {"train", "eval", "test"}


def test_rerun_compares_with_the_served_model_and_does_not_push_it_twice(runs):
    second = runs.run("second")
    assert second.returncode == EXIT_OK, second.stdout + second.stderr
    assert "baseline (served model) auc" in second.stdout
    assert "already served, unchanged" in second.stdout
    nodes = runs.latest_nodes()
    assert nodes["Trainer"].state == "CACHED"
    assert nodes["Evaluator"].state == "COMPLETE"  # the served model is a new input
    assert layout.list_versions(runs.model_dir) == [1]


def test_third_run_with_nothing_changed_executes_nothing(runs):
    if "second" not in runs.results:
        pytest.skip("needs the re-run before it")
    third = runs.run("third")
    assert third.returncode == EXIT_OK, third.stdout + third.stderr
    nodes = runs.latest_nodes()
    assert len(nodes) == 12
    assert {n: r.state for n, r in nodes.items() if r.state != "CACHED"} == {}
    # TF's log noise goes to the log, also when no component runs to take it there.
    assert "deprecated" not in third.stdout + third.stderr
    assert "WARNING" not in third.stdout + third.stderr


def _broken_span(root: Path) -> Path:
    data = root / "broken-data"
    shutil.copytree(DATA_DIR / "wdbc", data)
    with open(DATA_DIR / "wdbc" / "span-1" / "wdbc.csv") as handle:
        rows = list(csv.DictReader(handle))
    rows[7]["area_mean"] = "-512.0"  # an area cannot be negative
    (data / "span-2").mkdir()
    with open(data / "span-2" / "wdbc.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return data


def test_broken_span_is_stopped_by_the_gate_and_pushes_nothing(runs, tmp_path):
    before = sorted(p.name for p in Path(runs.model_dir).iterdir())
    result = runs.run("broken", data=_broken_span(tmp_path))
    assert result.returncode == EXIT_REJECTED, result.stdout + result.stderr
    assert "DATA REJECTED" in result.stdout and "area_mean" in result.stdout
    nodes = runs.latest_nodes()
    verdict = nodes["ValidationGate"].outputs["verdict"][0]
    assert metadata.custom_int(verdict, "passed", default=1) == 0
    ran = {name for name, node in nodes.items() if node.state in ("COMPLETE", "CACHED")}
    assert not {"Transform", "Trainer", "Evaluator", "Pusher"} & ran
    assert sorted(p.name for p in Path(runs.model_dir).iterdir()) == before
    shown = {line.split()[0]: line.split(None, 1)[1] for line in result.stdout.splitlines()
             if line.startswith("  ") and len(line.split()) > 1}
    for node in ("Transform", "Trainer", "Evaluator", "Pusher"):
        assert shown[node] == "skipped (stopped at the gate)"


def test_raw_signature_answers_as_the_examples_signature(runs):
    model = tf.saved_model.load(layout.version_dir(runs.model_dir, 1))
    raw = model.signatures["serving_raw"]
    assert sorted(raw.structured_input_signature[1]) == sorted(WDBC_FEATURES)
    serialized = _test_split_examples(runs.first_nodes)
    parsed = [tf.train.Example.FromString(s).features.feature for s in serialized]
    floats = {
        name: tf.constant([f[name].float_list.value[0] for f in parsed]) for name in WDBC_FEATURES
    }
    by_raw = raw(**floats)
    by_examples = model.signatures[SERVING_DEFAULT](**{EXAMPLES_INPUT: tf.constant(serialized)})
    np.testing.assert_allclose(by_raw[PROBABILITY], by_examples[PROBABILITY], atol=1e-6)
    np.testing.assert_array_equal(by_raw[LABEL], by_examples[LABEL])


def test_a_run_killed_half_way_resumes_from_what_finished(tmp_path):
    args = [
        sys.executable, "-m", "pipeline.cli", "run", "wdbc", "--work-dir", str(tmp_path / "w"),
        "--serving-base", str(tmp_path / "s"), "--train-steps", TRAIN_STEPS,
    ]
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1"}
    with subprocess.Popen(args, stdout=subprocess.PIPE, text=True, env=env) as proc:
        for line in proc.stdout:
            if line.split()[:2] == ["Trainer", "running..."]:
                proc.kill()
                break
        proc.wait(timeout=60)
    assert proc.returncode != 0
    assert not (tmp_path / "s" / "wdbc").exists()

    resumed = subprocess.run(args, capture_output=True, text=True, env=env, timeout=1200)
    assert resumed.returncode == EXIT_OK, resumed.stdout + resumed.stderr
    store = metadata.open_store(tmp_path / "w" / PIPELINE / "metadata.sqlite")
    nodes = metadata.node_runs(store, metadata.run_ids(store, PIPELINE)[-1])
    finished_before_kill = {"CsvExampleGen", "SplitCheck", "StatisticsGen", "SchemaImporter",
                            "ExampleValidator", "ValidationGate", "Transform"}
    assert {n: nodes[n].state for n in finished_before_kill} == dict.fromkeys(
        finished_before_kill, "CACHED"
    )
    assert nodes["Trainer"].state == "COMPLETE" and nodes["Pusher"].state == "COMPLETE"
