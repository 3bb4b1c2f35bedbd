"""bench/quality.py at smoke size: three result files with sane metrics, two seeds on every
fold (no target checked)."""


import pytest

from bench import quality
from pipeline.config import WDBC


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
    assert (details["folds"], details["repeats"], details["fits"]) == (3, 1, 6)
    seeds = [WDBC.training.seed, WDBC.training.seed + 1]
    assert details["training_seeds"] == seeds
    assert (details["rows"], details["malignant"]) == (569, 212)
    for who in ("model", "logistic_regression"):
        for metric in quality.METRICS:
            spread = details["summary"][who][metric]
            assert 0 <= spread["min"] <= spread["mean"] <= 1, (who, metric)
    summary = details["summary"]
    assert auc["value"] == summary["model"]["auc"]["mean"]
    assert auc["baseline"] == summary["logistic_regression"]["auc"]["mean"]
    assert 0 < details["threshold"]["min"] <= details["threshold"]["max"] < 1
    # Each seed saw every fold: the headline is the mean of the seeds' means.
    per_seed = details["model_per_seed"]
    assert set(per_seed) == {str(seed) for seed in seeds}
    for metric in quality.METRICS:
        means = [per_seed[seed][metric] for seed in per_seed]
        assert summary["model"][metric]["mean"] == pytest.approx(sum(means) / len(means))
        assert details["model_seed_range"][metric] == pytest.approx(max(means) - min(means))
    assert written["quality_accuracy"]["value"] == summary["model"]["accuracy"]["mean"]

    swept = details["model_fixed_thresholds"]
    at = swept["by_threshold"]
    assert list(at) == [f"{t:.2f}" for t in quality.FIXED_THRESHOLDS]
    # A higher threshold calls fewer cases malignant: sensitivity never rises, specificity
    # never falls.
    sensitivities = [at[t]["sensitivity"] for t in at]
    specificities = [at[t]["specificity"] for t in at]
    assert sensitivities == sorted(sensitivities, reverse=True)
    assert specificities == sorted(specificities)
    best = swept["best_accuracy_in_hindsight"]
    assert best["accuracy"] == max(at[t]["accuracy"] for t in at)
    assert at[f"{best['threshold']:.2f}"]["accuracy"] == best["accuracy"]
