"""The review report of real runs, checked against what TFMA and TFDV wrote.

One work dir, two runs: span 1 (pushed as version 1), then a broken span 2 that the gate
stops; its report must still exist, list the anomalies and measure drift against span 1.
"""

import json
import os
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_data_validation as tfdv
import tensorflow_model_analysis as tfma
from playwright.sync_api import sync_playwright
from scipy import stats
from sklearn import metrics as skm
from tensorflow_metadata.proto.v0 import anomalies_pb2

from components.report import metrics
from pipeline import metadata
from pipeline.cli import EXIT_OK, EXIT_REJECTED
from pipeline.config import DATA_DIR, WDBC
from serving import layout
from serving.signatures import EXAMPLES_INPUT, LABEL, PROBABILITY, SERVING_DEFAULT
from tests.test_wdbc_e2e import _broken_span, bcpipe

pytestmark = pytest.mark.e2e
PIPELINE = "bcpipe-wdbc"
TRAIN_STEPS = "300"
ARTIFACTS = Path(__file__).parent / "artifacts"
SECTIONS = ["decision", "data", "model", "model-card", "lineage"]
# Debian's, installed by `make browser` before the tests run, never by a test.
CHROMIUM = "/usr/bin/chromium"
EXACT = ("sensitivity", "specificity", "ppv", "npv", "f1", "balanced_accuracy", "accuracy")
TFMA_LABEL_NAMES = {"sensitivity": "sensitivity", "specificity": "specificity",
                    "ppv": "precision", "npv": "negative_predictive_value", "f1": "f1_score",
                    "balanced_accuracy": "balanced_accuracy", "accuracy": "binary_accuracy"}


class Run:
    def __init__(self, result, nodes):
        self.result = result
        self.nodes = nodes
        self.report_dir = nodes["ReviewReport"].outputs["report"][0].uri
        with open(os.path.join(self.report_dir, "report.json")) as handle:
            self.report = json.load(handle)

    def uri(self, node: str, output: str) -> str:
        return self.nodes[node].outputs[output][0].uri


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("review")
    work, serving = root / "work", root / "serving"
    common = ["--work-dir", str(work), "--serving-base", str(serving),
              "--train-steps", TRAIN_STEPS]
    store_path = work / PIPELINE / "metadata.sqlite"

    def run(data: Path, expected: int) -> Run:
        result = bcpipe("run", "wdbc", "--input", str(data), *common)
        assert result.returncode == expected, result.stdout + result.stderr
        store = metadata.open_store(store_path)
        return Run(result, metadata.node_runs(store, metadata.run_ids(store, PIPELINE)[-1]))

    first = run(DATA_DIR / "wdbc", EXIT_OK)
    broken = run(_broken_span(root), EXIT_REJECTED)
    return {"first": first, "broken": broken, "work": work, "serving": serving}


def _overall_candidate(uri: str) -> dict[str, float]:
    """Read independently of the report's own reader: the candidate's overall numbers."""
    overall = next(s for s in tfma.load_metrics(uri) if not s.slice_key.single_slice_keys)
    return {f"{e.key.output_name}/{e.key.name}": e.value.double_value.value
            for e in overall.metric_keys_and_values
            if e.key.model_name in ("", "candidate") and not e.key.is_diff
            and e.value.HasField("double_value") and not e.key.HasField("sub_key")}


def _split_examples(examples_uri: str, split: str) -> list[bytes]:
    files = tf.io.gfile.glob(os.path.join(examples_uri, f"Split-{split}", "*"))
    return [r.numpy() for r in tf.data.TFRecordDataset(files, compression_type="GZIP")]


def _labels(serialized: list[bytes]) -> np.ndarray:
    return np.array([tf.train.Example.FromString(s).features.feature["diagnosis"]
                     .int64_list.value[0] for s in serialized])


def test_the_run_summary_ends_with_the_report(runs):
    for run in (runs["first"], runs["broken"]):
        last = run.result.stdout.strip().splitlines()[-1]
        assert last.startswith("report:") and last.endswith("report.html")
        assert Path(last.split(None, 1)[1]).is_file()
    assert runs["first"].report["decision"]["status"] == "released"
    assert runs["first"].report["decision"]["version"] == "1"


def test_tfma_numbers_are_copied_exactly(runs):
    first = runs["first"]
    uri = first.uri("Evaluator", "evaluation")
    tfma_part = first.report["model"]["tfma"]
    assert tfma_part["metrics"]["candidate"] == _overall_candidate(uri)
    assert tfma_part["validation_ok"] == tfma.load_validation_result(uri).validation_ok is True
    values = _overall_candidate(uri)
    assert {(t["output"], t["metric"]) for t in tfma_part["thresholds"]} == {
        ("label", "binary_accuracy"), ("label", "sensitivity"), ("label", "specificity"),
        ("probability", "auc")}
    for threshold in tfma_part["thresholds"]:
        assert threshold["value"] == values[f"{threshold['output']}/{threshold['metric']}"]
        assert threshold["passed"] and threshold["value"] >= threshold["lower"]
    bounds = {t["metric"]: t["lower"] for t in tfma_part["thresholds"]}
    assert bounds == {"binary_accuracy": WDBC.thresholds.accuracy, "auc": WDBC.thresholds.auc,
                      "sensitivity": WDBC.thresholds.sensitivity,
                      "specificity": WDBC.thresholds.specificity}


def test_blessing_split_metrics_agree_with_tfma(runs):
    first = runs["first"]
    values = _overall_candidate(first.uri("Evaluator", "evaluation"))
    # TFMA blessed on the test split: the Trainer early-stopped and set its threshold on eval.
    assert first.report["model"]["tfma"]["split"] == WDBC.blessing_split == "test"
    ours = first.report["model"]["splits"][WDBC.blessing_split]["metrics"]
    for name in EXACT:
        assert ours[name]["value"] == pytest.approx(values[f"label/{TFMA_LABEL_NAMES[name]}"],
                                                    abs=1e-12), name
    assert ours["auc"]["value"] == pytest.approx(values["probability/auc"], abs=1e-3)
    assert ours["brier_score"]["value"] == pytest.approx(values["probability/brier_score"],
                                                         abs=1e-6)
    assert all(row["agree"] for row in first.report["model"]["cross_check"])


def test_test_split_metrics_equal_an_independent_scoring_of_the_pushed_model(runs):
    first = runs["first"]
    serialized = _split_examples(first.uri("CsvExampleGen", "examples"), "test")
    labels = _labels(serialized)
    model = tf.saved_model.load(layout.version_dir(str(runs["serving"] / "wdbc"), 1))
    answer = model.signatures[SERVING_DEFAULT](**{EXAMPLES_INPUT: tf.constant(serialized)})
    probability = answer[PROBABILITY].numpy().astype(np.float64)
    decision = answer[LABEL].numpy()
    tn, fp, fn, tp = skm.confusion_matrix(labels, decision).ravel()
    expected = {
        "auc": skm.roc_auc_score(labels, probability),
        "sensitivity": skm.recall_score(labels, decision),
        "specificity": tn / (tn + fp),
        "ppv": skm.precision_score(labels, decision),
        "npv": tn / (tn + fn),
        "f1": skm.f1_score(labels, decision),
        "balanced_accuracy": skm.balanced_accuracy_score(labels, decision),
        "accuracy": skm.accuracy_score(labels, decision),
        "brier_score": skm.brier_score_loss(labels, probability),
    }
    test = first.report["model"]["splits"]["test"]
    for name, value in expected.items():
        assert test["metrics"][name]["value"] == pytest.approx(value, abs=1e-9), name
    assert test["confusion"] == {"true_positives": tp, "false_negatives": fn,
                                 "false_positives": fp, "true_negatives": tn}
    exact = stats.binomtest(int(tp), int(tp + fn)).proportion_ci(0.95, method="exact")
    assert test["metrics"]["sensitivity"]["exact"]["low"] == pytest.approx(exact.low)
    assert (test["examples"], test["positives"]) == (len(labels), int(labels.sum()))


def _estimates(report: dict):
    model = report["model"]
    for split, part in model["splits"].items():
        for name, entry in part["metrics"].items():
            yield f"{split}/{name}", entry
    for row in model["slices"]["rows"]:
        for name, entry in row["metrics"].items():
            yield f"{row['split']}/{row['slice']}/{name}", entry


def test_every_interval_contains_its_estimate(runs):
    checked = 0
    for where, entry in _estimates(runs["first"].report):
        if entry["low"] is not None:
            assert entry["low"] <= entry["value"] <= entry["high"], where
            checked += 1
        exact = entry.get("exact")
        if exact and exact["low"] is not None:
            assert exact["low"] <= entry["value"] <= exact["high"], where
    assert checked >= 2 * len(metrics.METRICS)
    slices = runs["first"].report["model"]["slices"]["rows"]
    assert {r["feature"] for r in slices} == {"radius_mean"} and len(slices) == 8
    accuracies = [r["metrics"]["accuracy"]["value"] for r in slices]
    assert accuracies == sorted(accuracies)


def test_data_numbers_equal_what_tfdv_and_split_check_wrote(runs):
    first = runs["first"]
    data = first.report["data"]
    stats_uri = first.uri("StatisticsGen", "statistics")
    features = {f["name"]: f for f in data["features"]}
    examples_uri = first.uri("CsvExampleGen", "examples")
    for split in ("train", "eval", "test"):
        dataset = tfdv.load_stats_binary(
            os.path.join(stats_uri, f"Split-{split}", "FeatureStats.pb")).datasets[0]
        for feature in dataset.features:
            ours = features[feature.path.step[0]]["splits"][split]
            if feature.WhichOneof("stats") == "string_stats":  # categorical in the schema
                text = feature.string_stats
                assert (ours["count"], ours["unique"]) == (
                    text.common_stats.num_non_missing, text.unique)
                assert ours["top_values"] == [[v.value, v.frequency] for v in text.top_values]
                continue
            num = feature.num_stats
            assert (ours["mean"], ours["std_dev"], ours["min"], ours["median"], ours["max"],
                    ours["count"]) == (num.mean, num.std_dev, num.min, num.median, num.max,
                                       num.common_stats.num_non_missing)
        labels = _labels(_split_examples(examples_uri, split))
        assert data["class_balance"][split]["positives"] == int(labels.sum())
        assert data["class_balance"][split]["examples"] == len(labels) == dataset.num_examples
    with open(os.path.join(first.uri("SplitCheck", "proof"), "result.json")) as handle:
        proof = json.load(handle)
    assert data["splits"]["disjoint"] is True and set(data["splits"]["overlaps"].values()) == {0}
    for split, counts in proof["splits"].items():
        assert data["splits"]["splits"][split] == {
            "examples": counts["examples"], "partitions": counts["partitions"],
            "positive_partitions": counts["positive_partitions"]}
    assert data["span"] == 1 and data["schema"]["last_run"] is None


def test_a_run_stopped_by_the_gate_still_gets_a_report_with_its_anomalies(runs):
    broken = runs["broken"]
    report = broken.report
    assert report["decision"]["status"] == "rejected" and not report["model"]["trained"]
    anomalies_uri = broken.uri("ExampleValidator", "anomalies")
    for split, entries in report["data"]["anomalies"].items():
        proto = anomalies_pb2.Anomalies()
        with open(os.path.join(anomalies_uri, f"Split-{split}", "SchemaDiff.pb"), "rb") as f:
            proto.ParseFromString(f.read())
        assert {a["feature"]: a["description"] for a in entries} == {
            name: info.description for name, info in proto.anomaly_info.items()}
    flagged = [a for entries in report["data"]["anomalies"].values() for a in entries]
    assert [a["feature"] for a in flagged] == ["area_mean"]
    assert "FLOAT_TYPE_SMALL_FLOAT" in flagged[0]["types"] and flagged[0]["severity"] == "ERROR"
    assert "negative area" in flagged[0]["meaning"]
    assert any("area_mean" in reason for reason in report["decision"]["reasons"])
    assert report["data"]["schema"]["diff"]["lines"] == []


def test_drift_against_the_previous_span_is_tfdvs(runs):
    first, broken = runs["first"], runs["broken"]
    drift = broken.report["data"]["drift"]
    assert drift["previous_span"] == 1
    schema = tfdv.load_schema_text(str(WDBC.schema_file))

    def train_stats(run):
        return tfdv.load_stats_binary(os.path.join(
            run.uri("StatisticsGen", "statistics"), "Split-train", "FeatureStats.pb"))

    anomalies = tfdv.validate_statistics(train_stats(broken), schema,
                                         previous_statistics=train_stats(first))
    expected = {".".join(i.path.step): i.drift_measurements[0].value
                for i in anomalies.drift_skew_info}
    assert {r["feature"]: r["value"] for r in drift["drift"]} == expected
    assert len(expected) == 31 and set(drift["skew"]) == {"eval", "test"}


def test_the_page_loads_offline_without_errors_and_shows_every_section(runs):
    assert Path(CHROMIUM).exists(), f"no {CHROMIUM}: `make browser` installs Debian's Chromium"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            errors, requests = [], []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.on("console", lambda message: message.type in ("error", "assert")
                    and errors.append(message.text))
            page.on("request", lambda request: requests.append(request.url))
            for name in ("first", "broken"):
                url = (Path(runs[name].report_dir) / "report.html").resolve().as_uri()
                errors.clear()
                requests.clear()
                page.goto(url, wait_until="load")
                assert errors == [] and requests == [url]
                assert {s: page.locator(f"#{s}").is_visible() for s in SECTIONS} == dict.fromkeys(
                    SECTIONS, True)
                assert page.locator("svg").count() >= 30
                page.screenshot(path=ARTIFACTS / f"review_report_{name}.png", full_page=True)
        finally:
            browser.close()
    assert (ARTIFACTS / "review_report_first.png").stat().st_size > 10_000
    html = (Path(runs["first"].report_dir) / "report.html").read_text()
    assert "<script" not in html and "http://" not in html.replace(
        'xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in html


def test_bcpipe_report_renders_a_stored_run_again(runs, tmp_path):
    work = str(runs["work"])
    store = metadata.open_store(runs["work"] / PIPELINE / "metadata.sqlite")
    first_run = metadata.run_ids(store, PIPELINE)[0]
    result = bcpipe("report", "--pipeline", "wdbc", "--work-dir", work, "--run", first_run,
                    "--out", str(tmp_path / "again"))
    assert result.returncode == EXIT_OK, result.stdout + result.stderr
    again = json.loads((tmp_path / "again" / "report.json").read_text())
    assert again == runs["first"].report
    stored = (Path(runs["first"].report_dir) / "report.md").read_text()
    assert (tmp_path / "again" / "report.md").read_text() == stored
    latest = bcpipe("report", "--pipeline", "wdbc", "--work-dir", work,
                    "--out", str(tmp_path / "latest"))
    assert latest.returncode == EXIT_OK and "(rejected)" in latest.stdout


def test_bcpipe_lineage_names_the_span_and_evaluation_of_the_pushed_model(runs):
    first = runs["first"]
    result = bcpipe("lineage", "--model", "wdbc", "--version", "1", "--json",
                    "--work-dir", str(runs["work"]), "--serving-base", str(runs["serving"]))
    assert result.returncode == EXIT_OK, result.stdout + result.stderr
    found = json.loads(result.stdout)
    assert found["data"]["span"] == 1
    assert found["data"]["uri"] == first.uri("CsvExampleGen", "examples")
    assert found["evaluation"]["uri"] == first.uri("Evaluator", "evaluation")
    assert found["evaluation"]["blessed"] and found["content_intact"]
    assert found["model"]["uri"] == first.uri("Trainer", "model")
    assert found["transform"]["uri"] == first.uri("Transform", "transform_graph")
    assert found["schema"]["uri"] == first.uri("SchemaImporter", "schema")
    assert [r["html"] for r in found["reports"]] == [
        os.path.join(first.report_dir, "report.html")]
    text = bcpipe("lineage", "--model", "wdbc", "--version", "1",
                  "--work-dir", str(runs["work"]), "--serving-base", str(runs["serving"]))
    assert "span 1" in text.stdout and first.uri("Evaluator", "evaluation") in text.stdout
