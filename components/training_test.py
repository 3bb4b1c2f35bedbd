"""The operating point, and how many steps a run trains."""

import dataclasses

import numpy as np
import pytest

from components.training import (
    balanced_class_weights,
    choose_operating_point,
    configured_operating_point,
    fit,
    fit_schedule,
)
from pipeline.config import CHOSEN_FOR_SENSITIVITY, FIXED_THRESHOLD, IDC


def logit(p):
    return np.log(p / (1 - p))


def test_threshold_in_the_logit_middle_of_the_gap_below_the_kth_positive():
    labels = np.array([1, 1, 1, 1, 0, 0, 0, 0])
    scores = np.array([0.9, 0.8, 0.6, 0.3, 0.7, 0.2, 0.1, 0.05])
    point = choose_operating_point(labels, scores, target_sensitivity=0.75)
    # The third positive (0.6) is the lowest the target needs; 0.3 is the next score down.
    assert logit(point.threshold) == pytest.approx((logit(0.6) + logit(0.3)) / 2)
    assert point.sensitivity == pytest.approx(0.75)
    assert point.specificity == pytest.approx(0.75)  # 0.7 is the one negative above it
    full = choose_operating_point(labels, scores, target_sensitivity=1.0)
    assert logit(full.threshold) == pytest.approx((logit(0.3) + logit(0.2)) / 2)
    assert full.sensitivity == 1.0 and full.specificity == pytest.approx(0.75)


def test_ceiling_lowers_the_threshold_and_only_raises_sensitivity():
    labels = np.array([1, 1, 1, 1, 0, 0, 0, 0])
    scores = np.array([0.99, 0.95, 0.9, 0.4, 0.8, 0.3, 0.1, 0.05])
    free = choose_operating_point(labels, scores, target_sensitivity=0.75)
    assert logit(free.threshold) == pytest.approx((logit(0.9) + logit(0.8)) / 2)
    assert free.sensitivity == pytest.approx(0.75) and free.specificity == 1.0
    capped = choose_operating_point(labels, scores, target_sensitivity=0.75, max_threshold=0.5)
    assert capped.threshold == 0.5
    assert capped.sensitivity == pytest.approx(0.75)  # 0.4 is still below
    assert capped.specificity == pytest.approx(0.75)  # 0.8 is now above


def test_floor_ignores_one_outlying_positive_and_yields_to_the_ceiling():
    labels = np.array([1, 1, 1, 1, 0, 0, 0, 0])
    scores = np.array([0.99, 0.95, 0.9, 0.02, 0.3, 0.1, 0.05, 0.01])
    free = choose_operating_point(labels, scores, target_sensitivity=1.0)
    assert logit(free.threshold) == pytest.approx((logit(0.02) + logit(0.01)) / 2)
    assert free.specificity == pytest.approx(0.25)
    floored = choose_operating_point(labels, scores, 1.0, max_threshold=0.5, min_threshold=0.2)
    assert floored.threshold == 0.2
    assert floored.sensitivity == pytest.approx(0.75)  # the outlier is given up
    assert floored.specificity == pytest.approx(0.75)  # 0.3 is still above
    crossed = choose_operating_point(labels, scores, 1.0, max_threshold=0.5, min_threshold=0.6)
    assert crossed.threshold == 0.5


def test_saturated_scores_keep_the_kth_positive():
    # Nothing scores below the needed positive: no gap, the threshold is that score.
    point = choose_operating_point(np.array([1, 1, 0]), np.array([1.0, 0.7, 0.9]), 1.0)
    assert point.threshold == pytest.approx(0.7) and point.sensitivity == 1.0
    # A score of exactly 0 below it: no finite middle, so the positive's score is kept.
    point = choose_operating_point(np.array([1, 0]), np.array([1.0, 0.0]), 1.0)
    assert point.threshold == 1.0 and point.sensitivity == 1.0 and point.specificity == 1.0


def test_reached_sensitivity_never_below_target_on_random_scores():
    rng = np.random.default_rng(7)
    for _ in range(50):
        labels = rng.integers(0, 2, size=200)
        scores = np.clip(labels * 0.3 + rng.normal(0.4, 0.2, size=200), 0.001, 0.999)
        target = rng.uniform(0.5, 1.0)
        ceiling = rng.choice([1.0, 0.5])
        point = choose_operating_point(labels, scores, target, ceiling)
        assert point.sensitivity >= target
        assert point.threshold <= ceiling
        if point.threshold < ceiling:
            # In a gap between scores, halfway in logit space...
            above = scores[scores >= point.threshold].min()
            below = scores[scores < point.threshold].max()
            assert logit(point.threshold) == pytest.approx((logit(above) + logit(below)) / 2)
            # ...and the highest gap that works: past the score above it the target is lost.
            positives = scores[labels == 1]
            assert np.mean(positives > above) < target


def test_no_positives_keeps_half():
    point = choose_operating_point(np.zeros(5), np.linspace(0, 1, 5), 0.9)
    assert point.threshold == 0.5 and point.specificity == pytest.approx(0.4)


def test_fit_schedule_trains_the_steps_asked_for():
    assert fit_schedule(20, 200) == (20, 1)
    assert fit_schedule(6000, 200) == (200, 30)
    assert fit_schedule(300, 15) == (15, 20)
    assert fit_schedule(3469, 200) == (200, 18)  # rounds up to whole epochs


def test_class_weights_balance_the_classes():
    weights = balanced_class_weights(np.array([0] * 72 + [1] * 28))
    assert weights[1] / weights[0] == 72 / 28
    assert 72 * weights[0] == 28 * weights[1] == 50
    assert balanced_class_weights(np.zeros(5)) == {0: 1.0, 1: 1.0}


def test_a_fixed_threshold_is_kept_and_eval_only_reports_what_it_gives():
    labels = np.array([1, 1, 1, 1, 0, 0, 0, 0])
    scores = np.array([0.9, 0.6, 0.4, 0.1, 0.7, 0.3, 0.2, 0.05])
    fixed = dataclasses.replace(IDC.training, fixed_threshold=0.5)
    point = configured_operating_point(labels, scores, fixed)
    assert point.threshold == 0.5 and point.policy == FIXED_THRESHOLD
    assert point.sensitivity == 0.5 and point.specificity == 0.75
    chosen = configured_operating_point(
        labels, scores, dataclasses.replace(fixed, fixed_threshold=None))
    assert chosen.policy == CHOSEN_FOR_SENSITIVITY and chosen.threshold < 0.4
    # No positives on eval: the threshold holds, its sensitivity there is undefined.
    assert np.isnan(configured_operating_point(np.zeros(3), np.array([.1, .6, .7]), fixed)
                    .sensitivity)


def test_patience_zero_trains_every_step_and_keeps_the_last_weights():
    import tensorflow as tf

    config = dataclasses.replace(IDC.training, train_steps=6, steps_per_epoch=2,
                                 early_stopping_patience=0)
    model = tf.keras.Sequential([tf.keras.layers.Dense(1, input_shape=(1,))])
    model.compile(optimizer=tf.keras.optimizers.SGD(0.1), loss="mse")
    data = tf.data.Dataset.from_tensors((np.ones((4, 1)), np.zeros((4, 1)))).repeat()
    # A validation loss that only gets worse would stop, and roll back, any patience > 0.
    worse = tf.data.Dataset.from_tensors((np.ones((4, 1)), np.full((4, 1), 100.0)))
    history = fit(model, data, worse, dataclasses.replace(
        config, early_stopping_monitor="val_loss", early_stopping_mode="min"), verbose=0)
    assert len(history.history["loss"]) == 3
    assert model.optimizer.iterations.numpy() == 6
    assert len(history.history["val_loss"]) == 1  # scored once, after the last epoch
