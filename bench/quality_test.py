"""bench/quality.py at smoke size: three result files with sane metrics (no target checked)."""


import pytest

from bench import quality


@pytest.mark.e2e
def test_quick_cross_validation_writes_one_result_per_target(run_quick):
    written = run_quick(quality)
    assert set(written) == {"quality_auc", "quality_accuracy", "quality_sensitivity"}
    for result in written.values():
        assert result["higher_is_better"] is True
        assert result["met"] == (result["ratio"] >= result["target"])
        assert 0 <= result["value"] <= 1 and 0 <= result["baseline"] <= 1
    auc = written["quality_auc"]
    assert auc["target"] == 1.0 and auc["ratio"] == pytest.approx(auc["value"] / auc["baseline"])
    for name, target in (("quality_accuracy", 0.975), ("quality_sensitivity", 0.96)):
        assert written[name]["target"] == target and written[name]["ratio"] == written[name]["value"]

    details = auc["details"]
    assert (details["folds"], details["repeats"], details["fits"]) == (3, 1, 3)
    assert (details["rows"], details["malignant"]) == (569, 212)
    for who in ("model", "logistic_regression"):
        for metric in quality.METRICS:
            spread = details["summary"][who][metric]
            assert 0 <= spread["min"] <= spread["mean"] <= 1, (who, metric)
    summary = details["summary"]
    assert auc["value"] == summary["model"]["auc"]["mean"]
    assert auc["baseline"] == summary["logistic_regression"]["auc"]["mean"]
    assert 0 < details["threshold"]["min"] <= details["threshold"]["max"] < 1
