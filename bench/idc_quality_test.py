"""bench/idc_quality.py at smoke size on real patches: folds by patient, three results whose
figures are the bootstrap estimates they claim, and the baseline's features."""

import numpy as np
import pytest

from bench import common, idc_quality, idc_real


def test_colour_histograms_are_distributions_in_index_order():
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (5, 7500), dtype=np.uint8)
    pixels[3] = 0  # black: every channel's mass in the first bin (hue and saturation too)
    patches = idc_real.Patches(pixels, np.zeros(5, np.int64), np.array(["a"] * 5),
                               np.full((5, 2), 50))
    features = idc_quality.colour_histograms(patches, np.array([1, 3, 4]))
    assert features.shape == (3, 6 * idc_quality.HIST_BINS)
    per_channel = features.reshape(3, 6, idc_quality.HIST_BINS)
    np.testing.assert_allclose(per_channel.sum(axis=2), 1.0)
    np.testing.assert_array_equal(per_channel[1, :, 0], np.ones(6))
    alone = idc_quality.colour_histograms(patches, np.array([4]))
    np.testing.assert_array_equal(alone[0], features[2])


def test_youden_threshold_separates_what_it_can():
    labels = np.array([0, 0, 0, 1, 1, 1])
    assert idc_quality.youden_threshold(labels, np.array([.1, .2, .3, .6, .7, .8])) == 0.6
    # A negative above one positive: taking that positive costs less than it gains.
    labels = np.array([0, 0, 0, 0, 1, 1, 1])
    scores = np.array([.1, .2, .3, .7, .4, .8, .9])
    assert idc_quality.youden_threshold(labels, scores) == pytest.approx(0.4)


@pytest.mark.e2e
def test_quick_run_on_real_patients(tmp_path, monkeypatch):
    monkeypatch.setenv(common.RESULTS_ENV, str(tmp_path))
    assert idc_quality.main(["--quick"]) == 0
    results = {p.stem: common.read_result(p) for p in tmp_path.glob("*.json")}
    assert set(results) == {f"idc_quality_{m}" for m in idc_quality.TARGETS}
    details = results["idc_quality_auc"]["details"]
    assert details["patients"] == idc_quality.QUICK_PATIENTS
    # Every patient is tested exactly once, by a model that saw none of its patches.
    tested = [p for fit in details["fits"] for p in fit["test_patients"]]
    assert len(tested) == len(set(tested)) == details["patients"]
    assert set(tested) == set(details["per_patient"])
    for fit in details["fits"]:
        train, valid, test = (set(fit[k]) for k in
                              ("train_patients", "eval_patients", "test_patients"))
        assert train and valid and test
        assert not (train & valid or train & test or valid & test)
    for metric, target in idc_quality.TARGETS.items():
        result, estimate = results[f"idc_quality_{metric}"], details["model"][metric]
        assert result["value"] == result["ratio"] == estimate["value"]
        assert result["target"] == target and result["met"] == (estimate["value"] >= target)
        assert estimate["low"] <= estimate["value"] <= estimate["high"]
        assert result["baseline"] == details["baseline"][metric]["value"]
    # A few dozen steps on 900 patches already rank patients' patches better than chance.
    assert details["model"]["auc"]["value"] > 0.6
    assert details["baseline"]["auc"]["value"] > 0.6
    assert len(details["thresholds"]) == idc_quality.FOLDS[True]
