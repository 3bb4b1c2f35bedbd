"""Both pipelines as open-source KFP runs them, judged by KFP's rules (tests/kfp_harness.py)
on a GCS that TensorFlow really writes to (tests/fake_gcs.py): a passing span ends with a
pushed model, a refused one with its review report and a failed run."""

from __future__ import annotations

import dataclasses
import json
import os

import pandas as pd
import pytest

from components.idc.synth import synthesize
from pipeline import config, exits
from pipeline.kubeflow_gate import REFUSAL, REFUSED_REPORT, REPORT
from pipeline.kubeflow_runner import compile_pipeline
from tests.fake_gcs import fake_gcs
from tests.kfp_harness import (
    ABORT_AT_EXIT,
    FAILED,
    OMITTED,
    SKIPPED,
    SUCCEEDED,
    KfpRun,
    gcs_client,
    upload_tree,
)

pytestmark = pytest.mark.e2e

BUCKET = "bcpipe-test"


@pytest.fixture(scope="module")
def gcs(tmp_path_factory):
    with fake_gcs(tmp_path_factory.mktemp("gcs"), BUCKET) as env:
        yield {**env, "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}


def run_on_gcs(gcs, tmp_path, profile, data, root: str, train_steps: int) -> KfpRun:
    client = gcs_client(gcs)
    # Beam in one process, as `bcpipe run` runs it here: a pod's worker processes, one per
    # requested core, would each load TF again on CI's 2 cores.
    package = compile_pipeline(profile, image="registry.example/bcpipe:test",
                               pipeline_root=root, out_dir=tmp_path / "package",
                               train_steps=train_steps,
                               beam_args=tuple(config.BEAM.direct_args()[1:]))
    upload_tree(client, data, f"{root}/{config.KUBEFLOW.data_dir}/{profile.name}")
    run = KfpRun(package, pipeline_root=root, env=gcs, work=tmp_path / "pods")
    run.status = run.run()
    return run


def markers_under(client, uri: str) -> list[str]:
    bucket, _, key = uri.removeprefix("gs://").partition("/")
    return [b.name for b in client.list_blobs(bucket, prefix=key) if b.name.endswith("/")]


def assert_clean(run: KfpRun, client) -> None:
    """No step aborted at exit, and nothing a step published holds a directory marker."""
    for name, step in run.steps.items():
        assert ABORT_AT_EXIT not in step.log, name
        for key, artifact in step.outputs.items():
            assert markers_under(client, artifact["uri"]) == [], (name, key)


def read(client, uri: str) -> str:
    bucket, _, key = uri.removeprefix("gs://").partition("/")
    return client.bucket(bucket).blob(key).download_as_text()


def assert_report_on_the_run_page(client, step) -> dict:
    """What the KFP UI shows of the review report: the HTML and Markdown pages (one file each,
    by URI) and the metrics, each under its display name."""
    html, markdown, metrics = (step.outputs[k] for k in ("html", "markdown", "metrics"))
    assert html["type"] == {"schemaTitle": "system.HTML"}
    assert markdown["type"] == {"schemaTitle": "system.Markdown"}
    assert metrics["type"] == {"schemaTitle": "system.Metrics"}
    assert html["metadata"]["display_name"] == "review report"
    assert read(client, html["uri"]).lstrip().lower().startswith("<!doctype html")
    assert read(client, markdown["uri"]).startswith("#")
    assert metrics["metadata"]["display_name"] == "blessing metrics"
    report = json.loads(read(client, f"{step.outputs['report']['uri']}/report.json"))
    assert step.outputs["report"]["metadata"]["status"] == report["decision"]["status"]
    return report


def assert_pushed(run: KfpRun, client, root: str, model_name: str) -> dict:
    assert run.status == SUCCEEDED, {n: s.log[-3000:] for n, s in run.steps.items()
                                     if s.state == FAILED}
    states = {n: s.state for n, s in run.steps.items()}
    assert states.pop(REFUSED_REPORT) == SKIPPED
    assert states.pop(REFUSAL) == OMITTED  # its dependency was skipped, not Succeeded
    assert set(states.values()) == {SUCCEEDED}
    pushed = run.steps["Pusher"].outputs["pushed_model"]["metadata"]
    assert pushed["pushed"] == 1
    version = pushed["pushed_version"]
    serving = f"{root}/{config.KUBEFLOW.serving_dir}/{model_name}/{version}/saved_model.pb"
    bucket, _, key = serving.removeprefix("gs://").partition("/")
    assert client.bucket(bucket).blob(key).exists()
    assert_clean(run, client)
    report = assert_report_on_the_run_page(client, run.steps[REPORT])
    metrics = run.steps[REPORT].outputs["metrics"]["metadata"]
    assert metrics["blessed"] == 1
    assert {"auc", "sensitivity", "specificity"} <= set(metrics)
    assert report["decision"]["pushed"] is True
    return metrics


def test_wdbc_runs_to_a_pushed_model(gcs, tmp_path):
    root = f"gs://{BUCKET}/wdbc-pass"
    run = run_on_gcs(gcs, tmp_path, config.WDBC, config.DATA_DIR / "wdbc", root, 20)
    assert_pushed(run, gcs_client(gcs), root, config.WDBC.model_name)


def test_a_refused_span_ends_with_its_report_and_a_failed_run(gcs, tmp_path):
    wdbc = pd.read_csv(config.DATA_DIR / "wdbc" / "span-1" / "wdbc.csv")
    data = tmp_path / "data"
    (data / "span-1").mkdir(parents=True)
    wdbc[wdbc["diagnosis"] == 0].to_csv(data / "span-1" / "wdbc.csv", index=False)
    root = f"gs://{BUCKET}/wdbc-refused"
    run = run_on_gcs(gcs, tmp_path, config.WDBC, data, root, 1)
    client = gcs_client(gcs)

    assert run.status == FAILED
    states = {n: s.state for n, s in run.steps.items()}
    # The driver skips what reads the verdict; Argo omits what depends on a skipped task.
    assert (states["Transform"], states["ServedBaseline"]) == (SKIPPED, SKIPPED)
    assert {states[n] for n in ("Trainer", "Evaluator", "Pusher", REPORT)} == {OMITTED}
    assert states[REFUSED_REPORT] == SUCCEEDED
    assert states[REFUSAL] == FAILED
    assert run.steps[REFUSAL].log.startswith(f"exit {exits.EXIT_REJECTED}\n")
    assert "the data hold one class only" in run.steps[REFUSAL].log
    assert [n for n, s in states.items() if s == FAILED] == [REFUSAL]
    report = assert_report_on_the_run_page(client, run.steps[REFUSED_REPORT])
    assert report["decision"]["status"] == "rejected"
    metrics = run.steps[REFUSED_REPORT].outputs["metrics"]["metadata"]
    assert not [k for k, v in metrics.items() if isinstance(v, (int, float))]  # no model
    assert markers_under(client, f"{root}/{config.KUBEFLOW.serving_dir}") == []
    assert_clean(run, client)


def test_idc_runs_to_a_pushed_model(gcs, tmp_path):
    # 280 generated patches: what a blessing rests on is the cohort tests' to judge; here
    # the gate asks for what 3 test patients of 20 patches hold (7 positive).
    profile = dataclasses.replace(config.IDC, evidence=config.Evidence(
        patients=3, positive_patients=1, positive_examples=5, negative_examples=5))
    synthesize(tmp_path / "archive", patients=14, per_patient=20, seed=5)
    root = f"gs://{BUCKET}/idc-pass"
    run = run_on_gcs(gcs, tmp_path, profile, tmp_path / "archive", root, 200)
    metrics = assert_pushed(run, gcs_client(gcs), root, config.IDC.model_name)
    assert metrics["auc"] >= config.IDC.thresholds.auc
    assert os.path.isdir(tmp_path / "pods" / "Evaluator")
