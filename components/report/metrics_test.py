import numpy as np
import pytest
from scipy import stats
from sklearn import metrics as skm

from components.report import metrics

BINS = 10


def _scores(n=300, seed=0, groups=None) -> metrics.Scores:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    # Rounded to two decimals: many ties, which the AUC must count as one half.
    probability = np.round(np.clip(0.35 * labels + rng.uniform(0, 0.65, n), 0, 1), 2)
    decision = (probability >= 0.5).astype(int)
    return metrics.Scores(labels, probability, decision,
                          np.arange(n).astype(str) if groups is None else groups)


def _point(scores: metrics.Scores) -> dict[str, float]:
    drawn = metrics.weighted_metrics(scores, np.ones((1, len(scores))), BINS)
    return {name: float(values[0]) for name, values in drawn.items()}


def _ece(scores: metrics.Scores) -> float:
    total = 0.0
    for k in range(BINS):
        low, high = k / BINS, (k + 1) / BINS
        inside = (scores.probability >= low) & (
            (scores.probability < high) if k < BINS - 1 else (scores.probability <= 1))
        if inside.any():
            total += abs(scores.probability[inside].mean() - scores.labels[inside].mean()) * (
                inside.sum())
    return total / len(scores)


def test_point_estimates_match_scikit_learn():
    s = _scores()
    point = _point(s)
    tn, fp, fn, tp = skm.confusion_matrix(s.labels, s.decision).ravel()
    assert point["auc"] == pytest.approx(skm.roc_auc_score(s.labels, s.probability), abs=1e-12)
    assert point["sensitivity"] == pytest.approx(skm.recall_score(s.labels, s.decision))
    assert point["specificity"] == pytest.approx(tn / (tn + fp))
    assert point["ppv"] == pytest.approx(skm.precision_score(s.labels, s.decision))
    assert point["npv"] == pytest.approx(tn / (tn + fn))
    assert point["f1"] == pytest.approx(skm.f1_score(s.labels, s.decision))
    assert point["balanced_accuracy"] == pytest.approx(
        skm.balanced_accuracy_score(s.labels, s.decision))
    assert point["accuracy"] == pytest.approx(skm.accuracy_score(s.labels, s.decision))
    assert point["brier_score"] == pytest.approx(skm.brier_score_loss(s.labels, s.probability))
    assert point["ece"] == pytest.approx(_ece(s))
    assert metrics.confusion(s) == {"true_positives": tp, "false_negatives": fn,
                                    "false_positives": fp, "true_negatives": tn}


def test_integer_weights_equal_repeating_the_examples():
    s = _scores(n=80, seed=1)
    weights = np.random.default_rng(2).integers(0, 4, size=(3, len(s))).astype(float)
    drawn = metrics.weighted_metrics(s, weights, BINS)
    for row in range(3):
        repeat = np.repeat(np.arange(len(s)), weights[row].astype(int))
        expanded = _point(s.subset(repeat))
        for name in metrics.METRICS:
            assert drawn[name][row] == pytest.approx(expanded[name], abs=1e-12), name


def test_one_class_leaves_the_undefined_metrics_undefined():
    s = _scores(n=50)
    negatives = s.subset(s.labels == 0)
    point = _point(negatives)
    assert np.isnan(point["auc"]) and np.isnan(point["sensitivity"])
    assert point["specificity"] == pytest.approx(np.mean(negatives.decision == 0))


def test_intervals_contain_the_estimate_and_patients_widen_them():
    s = _scores(n=200, seed=3)
    independent = metrics.estimate(s, resamples=500, confidence=0.95, bins=BINS, seed=0)
    # The same examples, each present twice under one patient: twice the rows, the same
    # information. Resampling patients must not pretend it is twice the evidence.
    twice = np.r_[np.arange(len(s)), np.arange(len(s))]
    doubled = metrics.Scores(s.labels[twice], s.probability[twice], s.decision[twice],
                             s.groups[twice])
    clustered = metrics.estimate(doubled, resamples=500, confidence=0.95, bins=BINS, seed=0)
    naive = metrics.estimate(
        metrics.Scores(doubled.labels, doubled.probability, doubled.decision,
                       np.arange(len(doubled)).astype(str)),
        resamples=500, confidence=0.95, bins=BINS, seed=0)
    for name in metrics.METRICS:
        for result in (independent, clustered):
            entry = result[name]
            assert entry["low"] <= entry["value"] <= entry["high"], name
            assert 0.0 <= entry["low"] and entry["high"] <= 1.0
        ratio = clustered[name]["standard_error"] / naive[name]["standard_error"]
        assert 1.2 < ratio < 1.7, (name, ratio)  # about sqrt(2)


def test_a_single_patient_gets_no_interval():
    s = _scores(n=40)
    one = metrics.Scores(s.labels, s.probability, s.decision, np.full(40, "p1"))
    result = metrics.estimate(one, resamples=100, confidence=0.95, bins=BINS, seed=0)
    assert result["accuracy"]["value"] is not None and result["accuracy"]["low"] is None


def test_paired_change_against_a_baseline_on_the_same_examples():
    s = _scores(n=150, seed=4)
    worse = metrics.Scores(s.labels, np.clip(s.probability + 0.2, 0, 1),
                           (s.probability + 0.2 >= 0.5).astype(int), s.groups)
    result = metrics.estimate(s, resamples=300, confidence=0.95, bins=BINS, seed=0,
                              baseline=worse)
    for name in metrics.METRICS:
        change = result[name]["change"]
        assert change["value"] == pytest.approx(
            result[name]["value"] - result[name]["baseline"]["value"])
        assert change["low"] <= change["value"] <= change["high"]
    assert result["specificity"]["change"]["low"] > 0  # calling fewer benign cases malignant


def test_exact_intervals_are_clopper_pearson():
    confusion = {"true_positives": 15, "false_negatives": 1, "false_positives": 0,
                 "true_negatives": 27}
    result = metrics.exact_intervals(confusion, 0.95)
    for name, k, n in (("sensitivity", 15, 16), ("specificity", 27, 27), ("ppv", 15, 15),
                       ("npv", 27, 28), ("accuracy", 42, 43)):
        expected = stats.binomtest(k, n).proportion_ci(0.95, method="exact")
        assert (result[name]["successes"], result[name]["trials"]) == (k, n)
        assert result[name]["low"] == pytest.approx(expected.low)
        assert result[name]["high"] == pytest.approx(expected.high)
    assert result["specificity"]["high"] == 1.0 and result["specificity"]["low"] < 0.9


def test_curves_match_scikit_learn():
    s = _scores(n=120, seed=5)
    fpr, tpr, _ = skm.roc_curve(s.labels, s.probability, drop_intermediate=False)
    ours = metrics.roc_points(s)
    np.testing.assert_allclose([p[0] for p in ours], fpr)
    np.testing.assert_allclose([p[1] for p in ours], tpr)
    precision, recall, thresholds = skm.precision_recall_curve(s.labels, s.probability)
    expected = dict(zip(thresholds, zip(recall[:-1], precision[:-1], strict=True), strict=True))
    pr = metrics.pr_points(s)
    assert len(pr) == len(expected)
    for r, p, t in pr:
        assert (r, p) == pytest.approx(expected[t])
    assert metrics.thin(ours, 10)[0] == ours[0] and metrics.thin(ours, 10)[-1] == ours[-1]
    assert len(metrics.thin(ours, 10)) == 10


def test_calibration_bins_put_a_certain_one_in_the_last_bin():
    s = metrics.Scores(np.array([1, 0, 1]), np.array([1.0, 0.05, 0.95]), np.array([1, 0, 1]),
                       np.array(["a", "b", "c"]))
    rows = metrics.calibration(s, BINS)
    assert rows[-1]["examples"] == 2 and rows[0]["examples"] == 1
    assert rows[-1]["mean_probability"] == pytest.approx(0.975)
