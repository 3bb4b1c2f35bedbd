"""`bcpipe run idc` end to end on real patients: a subset of ../shared/data/idc-real.

Generated patches are separable by any network; these are not. The pushed model must rank
the test split's patches, of patients it never saw, far better than an untrained network
can, and an untrained one must be refused by the same gate.
"""

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from sklearn.metrics import roc_auc_score

from bench.idc_real import REAL_ROOT
from components.idc.archive import parse_patch_name
from pipeline import metadata
from pipeline.exits import EXIT_NOT_BLESSED, EXIT_OK
from serving import layout
from serving.signatures import EXAMPLES_INPUT, PROBABILITY, SERVING_DEFAULT

pytestmark = pytest.mark.e2e
PIPELINE = "bcpipe-idc"
# Every patient with both classes, each cut to this many patches drawn at random: enough
# patients for the default 7/1/2 split to hold the blessing split's evidence.
PER_PATIENT = 130
TRAIN_STEPS = "300"
# An untrained network ranks these patches at about 0.5; the colour-histogram baseline of
# bench/idc_quality.py reaches about 0.8 on held-out patients.
AUC_FLOOR = 0.8


def _subset(into):
    rng = np.random.default_rng(31)
    copied = 0
    for patient in sorted(os.listdir(REAL_ROOT)):
        files = sorted(
            os.path.join(patient, label, name)
            for label in ("0", "1") if os.path.isdir(REAL_ROOT / patient / label)
            for name in os.listdir(REAL_ROOT / patient / label)
        )
        if len({parse_patch_name(os.path.basename(f)).label for f in files}) < 2:
            continue
        for relative in rng.permutation(files)[:PER_PATIENT]:
            os.makedirs(into / os.path.dirname(relative), exist_ok=True)
            shutil.copyfile(REAL_ROOT / relative, into / relative)
            copied += 1
    return copied


def _run(root, serving, *extra):
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "run", "idc", "--input", str(root / "archive"),
         "--work-dir", str(root / "work"), "--serving-base", str(serving), *extra],
        capture_output=True, text=True, env=env, timeout=1500,
    )


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("idc-real-e2e")
    copied = _subset(root / "archive")
    result = _run(root, root / "serving", "--train-steps", TRAIN_STEPS)
    store = metadata.open_store(root / "work" / PIPELINE / "metadata.sqlite")
    nodes = metadata.node_runs(store, metadata.run_ids(store, PIPELINE)[-1])
    return root, copied, result, nodes


def test_blesses_and_pushes_a_model_that_ranks_unseen_patients(run):
    root, copied, result, nodes = run
    assert result.returncode == EXIT_OK, result.stdout + result.stderr
    assert copied < 3000  # a few thousand patches at most
    assert f"patches kept {copied}" in result.stdout
    model_dir = str(root / "serving" / "idc_patch")
    assert layout.list_versions(model_dir) == [1]
    uri = nodes["IdcExampleGen"].outputs["examples"][0].uri
    files = tf.io.gfile.glob(os.path.join(uri, "Split-test", "*"))
    serialized = [r.numpy() for r in tf.data.TFRecordDataset(files, compression_type="GZIP")]
    features = [tf.train.Example.FromString(s).features.feature for s in serialized]
    labels = np.array([f["label"].int64_list.value[0] for f in features])
    patients = {f["patient_id"].bytes_list.value[0] for f in features}
    assert len(patients) >= 3 and 0 < labels.sum() < labels.size
    model = tf.saved_model.load(layout.version_dir(model_dir, 1))
    scored = model.signatures[SERVING_DEFAULT](**{EXAMPLES_INPUT: tf.constant(serialized)})
    assert roc_auc_score(labels, scored[PROBABILITY].numpy()) >= AUC_FLOOR


def test_refuses_an_untrained_model_with_nothing_in_service(run):
    """One step, taken at the schedule's starting rate of zero: the network as initialised.
    (A 5-step model reached AUC 0.91 on three of these patients once: colour alone ranks
    them well, see bench/README.md, so it is not a model the gate can be asked to refuse.)"""
    root, _, _, _ = run
    serving = root / "serving-empty"
    result = _run(root, serving, "--train-steps", "1")
    assert result.returncode == EXIT_NOT_BLESSED, result.stdout + result.stderr
    assert "NOT BLESSED" in result.stdout and "FAIL" in result.stdout
    assert not (serving / "idc_patch").exists() or not os.listdir(serving / "idc_patch")
