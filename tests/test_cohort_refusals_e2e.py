"""`bcpipe run` refuses at the gate, exit 3, what it cannot train or bless on, and says why.

Until the gate knew, a cohort too small for its splits left one empty and crashed the Trainer
or the report, and one-class data trained for a minute and reported `auc 0.0000 FAIL`.
"""

import os
import subprocess
import sys

import pandas as pd
import pytest

from components.idc.synth import synthesize
from components.report import files
from pipeline import metadata
from pipeline.cli import EXIT_REJECTED
from pipeline.config import DATA_DIR

pytestmark = pytest.mark.e2e


def _run(pipeline: str, data, work, *extra: str) -> tuple[subprocess.CompletedProcess, dict]:
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "run", pipeline, "--input", str(data),
         "--work-dir", str(work), *extra],
        capture_output=True, text=True, env=env, timeout=900,
    )
    name = f"bcpipe-{pipeline}"
    store = metadata.open_store(work / name / "metadata.sqlite")
    return result, metadata.node_runs(store, metadata.run_ids(store, name)[-1])


def _report(nodes) -> dict:
    return files.read(nodes["ReviewReport"].outputs["report"][0].uri)


def test_a_cohort_too_small_for_its_splits_is_refused_naming_the_split(tmp_path):
    synthesize(tmp_path / "archive", patients=2, per_patient=20, seed=3)
    result, nodes = _run("idc", tmp_path / "archive", tmp_path / "work", "--splits", "1,1,1")
    assert result.returncode == EXIT_REJECTED, result.stdout + result.stderr
    # Two patients at 1/1/1: one to train, one to eval, none to test.
    message = ("the test split holds no patient: with --splits 1,1,1 (train,eval,test) the "
               "run needs at least 9 patients, and it has 2")
    assert "DATA REJECTED" in result.stdout and f"[test] {message}" in result.stdout
    assert "Trainer" not in nodes or nodes["Trainer"].state not in ("COMPLETE", "CACHED")
    report = _report(nodes)
    assert report["decision"]["status"] == "rejected"
    assert f"[test] {message}" in report["decision"]["reasons"]


def test_data_of_one_class_is_refused_as_such(tmp_path):
    wdbc = pd.read_csv(DATA_DIR / "wdbc" / "span-1" / "wdbc.csv")
    benign = wdbc[wdbc["diagnosis"] == 0]
    (tmp_path / "data" / "span-1").mkdir(parents=True)
    benign.to_csv(tmp_path / "data" / "span-1" / "wdbc.csv", index=False)
    result, nodes = _run("wdbc", tmp_path / "data", tmp_path / "work")
    assert result.returncode == EXIT_REJECTED, result.stdout + result.stderr
    message = (f"the data hold one class only: all {len(benign)} examples have diagnosis = 0; "
               "a model needs examples of both diagnosis = 0 and diagnosis = 1")
    assert f"[data] {message}" in result.stdout
    assert "auc" not in result.stdout and "sensitivity" not in result.stdout
    assert f"[data] {message}" in _report(nodes)["decision"]["reasons"]
