"""bench/quality.py at smoke size: three result files with sane metrics, two seeds on every
fold, the accuracy paired with LR's fold by fold (no target checked)."""


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
    sensitivity = written["quality_sensitivity"]
    assert sensitivity["target"] == 0.96 and sensitivity["ratio"] == sensitivity["value"]

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

    # Accuracy: the model's per-fold mean over the seeds, paired with LR's on the same fold.
    per_fold = details["per_fold"]
    model_folds = per_fold["model"]["accuracy"]
    lr_folds = per_fold["logistic_regression"]["accuracy"]
    assert len(model_folds) == len(lr_folds) == 3
    assert sum(lr_folds) / 3 == pytest.approx(summary["logistic_regression"]["accuracy"]["mean"])
    assert sum(model_folds) / 3 == pytest.approx(summary["model"]["accuracy"]["mean"])
    differences = [m - b for m, b in zip(model_folds, lr_folds, strict=True)]
    mean = sum(differences) / 3
    se = (sum((d - mean) ** 2 for d in differences) / 2) ** 0.5 / 3 ** 0.5
    paired = details["accuracy_paired"]
    assert paired == pytest.approx({"difference": mean, "standard_error": se, "folds": 3})
    accuracy = written["quality_accuracy"]
    assert accuracy["target"] == -1.0 and accuracy["ratio"] == pytest.approx(mean / se)
    assert accuracy["met"] == (mean >= -se)

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
