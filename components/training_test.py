"""The operating point, and how many steps a run trains."""

import numpy as np
import pytest

from components.training import choose_operating_point, fit_schedule


def test_highest_threshold_reaching_target_sensitivity():
    labels = np.array([1, 1, 1, 1, 0, 0, 0, 0])
    scores = np.array([0.9, 0.8, 0.6, 0.3, 0.7, 0.2, 0.1, 0.05])
    point = choose_operating_point(labels, scores, target_sensitivity=0.75)
    assert point.threshold == pytest.approx(0.6)
    assert point.sensitivity == pytest.approx(0.75)
    assert point.specificity == pytest.approx(0.75)  # 0.7 is the one negative above it
    full = choose_operating_point(labels, scores, target_sensitivity=1.0)
    assert full.threshold == pytest.approx(0.3) and full.sensitivity == 1.0
    assert full.specificity == pytest.approx(0.75)


def test_reached_sensitivity_never_below_target_on_random_scores():
    rng = np.random.default_rng(7)
    for _ in range(50):
        labels = rng.integers(0, 2, size=200)
        scores = np.clip(labels * 0.3 + rng.normal(0.4, 0.2, size=200), 0, 1)
        target = rng.uniform(0.5, 1.0)
        point = choose_operating_point(labels, scores, target)
        assert point.sensitivity >= target
        # One step higher would miss the target: the threshold is the highest that works.
        above = scores[labels == 1][scores[labels == 1] > point.threshold]
        assert above.size / (labels == 1).sum() < target


def test_no_positives_keeps_half():
    point = choose_operating_point(np.zeros(5), np.linspace(0, 1, 5), 0.9)
    assert point.threshold == 0.5 and point.specificity == pytest.approx(0.4)


def test_fit_schedule_trains_the_steps_asked_for():
    assert fit_schedule(20, 200) == (20, 1)
    assert fit_schedule(6000, 200) == (200, 30)
    assert fit_schedule(300, 15) == (15, 20)
    assert fit_schedule(3469, 200) == (200, 18)  # rounds up to whole epochs
