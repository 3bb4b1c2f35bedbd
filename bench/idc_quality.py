"""Benchmark 7: the IDC patch model on real patients, patient-grouped k-fold cross-validation,
against a linear model on colour histograms on the same folds.

Data: the real patches in ../shared/data/idc-real (19 patients, 17,269 patches), decoded by
the pipeline's own ExampleGen and Transform code (bench/idc_real.py). Folds: scikit-learn's
GroupKFold over patients (5; quick: 3 on a few patients), so every patient is in
exactly one test fold and no patient's patches are on both sides of a fold.

Per fold the model is trained as the Trainer trains it, with no TFX around it:
- the training patients are split into train and eval patients by the pipeline's own split
  assignment (`components.split_assignment`), in the IDC profile's train:eval proportion;
- `build_model`, `augment` and the Trainer's loop (`components.training.fit`: the config's
  steps and epoch length, early stopping on eval where the config asks for it), class
  weights where the config balances the classes;
- the served `label` is `P >= threshold`, the threshold set by the Trainer's policy
  (`components.training.configured_operating_point`), never with the test patients.
Baseline: a logistic regression on per-channel colour histograms (RGB and HSV), class
weights balanced, threshold 0.5, fitted on the same training patients.

Pooled out-of-fold figures (every patch scored by the model that never saw its patient),
each with a 95% interval from a bootstrap over patients, and the paired change against the
baseline: AUC, balanced accuracy, F1, sensitivity and specificity at the served `label`.
Also per patient, and at other threshold policies on the same predictions (the diagnosis
of an operating point that does not carry over to new patients).
Results: `idc_quality_balanced_accuracy`, `idc_quality_f1`, `idc_quality_auc`; each
ratio is the model's own pooled value against its target.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time

import numpy as np

from bench import common, idc_real

SEED = 2026
FOLDS = {False: 5, True: 3}
# Quick: the smallest patients (all patches) plus a slice of the rest, a few hundred steps.
QUICK_PATIENTS = 6
QUICK_PATCHES_PER_PATIENT = 150
QUICK_STEPS = 60
TARGETS = {"balanced_accuracy": 0.85, "f1": 0.77, "auc": 0.93}
REPORTED = ("auc", "balanced_accuracy", "f1", "sensitivity", "specificity", "ppv", "accuracy")
HIST_BINS = 16


def quick_files(listed: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """A small cohort of the archive's files: the first QUICK_PATIENTS patients (by id)
    holding both classes, QUICK_PATCHES_PER_PATIENT of each drawn at random."""
    from components.idc.archive import parse_patch_name

    by_patient: dict[str, list] = {}
    for kind, file in listed:
        name = parse_patch_name(os.path.basename(file))
        if kind == "patient" and name is not None:
            by_patient.setdefault(name.patient, []).append(((kind, file), name.label))
    rng = np.random.default_rng(SEED)
    both = [p for p in sorted(by_patient) if len({lab for _, lab in by_patient[p]}) == 2]
    chosen = []
    for patient in both[:QUICK_PATIENTS]:
        items = by_patient[patient]
        chosen += [items[i][0] for i in rng.permutation(len(items))[:QUICK_PATCHES_PER_PATIENT]]
    return sorted(chosen)


def patient_folds(labels: np.ndarray, patients: np.ndarray, k: int):
    """(train indices, test indices) per fold; folds by patient, as near equal in patches
    as whole patients allow, so that every model trains on about (k - 1) / k of the data
    (stratifying by class instead gave one fold half the patches)."""
    from sklearn.model_selection import GroupKFold

    return list(GroupKFold(n_splits=k).split(np.zeros(labels.size), labels, patients))


def inner_split(index: np.ndarray, patches: idc_real.Patches, profile) -> tuple:
    """(train, eval) indices of a fold's training patients, assigned by the pipeline's own
    split assignment in the profile's train:eval proportion."""
    from components import split_assignment
    from pipeline.config import EVAL_SPLIT, TRAIN_SPLIT

    weights = [(name, w) for name, w in profile.split_buckets if name in (TRAIN_SPLIT, EVAL_SPLIT)]
    patients, labels = patches.patients[index], patches.labels[index]
    assigned = split_assignment.assign(
        {p: bool(labels[patients == p].any()) for p in sorted(set(patients))}, weights)
    in_eval = np.array([assigned[p] == EVAL_SPLIT for p in patients], bool)
    return index[~in_eval], index[in_eval]


def _batches(patches: idc_real.Patches, index: np.ndarray, batch_size: int, *, train: bool,
             seed: int):
    """(features, label) batches gathered from the memory-mapped pixels."""
    import tensorflow as tf

    from components.idc.preprocessing import PIXEL_COUNT, PIXELS

    def gather(chosen):
        chosen = np.sort(chosen)
        return (np.asarray(patches.pixels[chosen], np.int64),
                patches.labels[chosen].reshape(-1, 1))

    def load(chosen):
        pixels, labels = tf.numpy_function(gather, [chosen], (tf.int64, tf.int64))
        return ({PIXELS: tf.ensure_shape(pixels, [None, PIXEL_COUNT])},
                tf.ensure_shape(labels, [None, 1]))

    data = tf.data.Dataset.from_tensor_slices(index)
    if train:
        data = data.shuffle(index.size, seed=seed, reshuffle_each_iteration=True).repeat()
    return data.batch(batch_size).map(load).prefetch(tf.data.AUTOTUNE)


def fit_model(patches, fit_idx, eval_idx, test_idx, config) -> dict:
    """The test patches' P(malignant) and the served threshold of a model trained as the
    Trainer trains it, with the eval patients' predictions the threshold came from."""
    import tensorflow as tf

    from components import training
    from components.idc.model import SHAPE, EightViews, augment, build_model
    from components.idc.preprocessing import PIXELS

    tf.keras.backend.clear_session()
    tf.keras.utils.set_random_seed(config.seed)
    train = _batches(patches, fit_idx, config.batch_size, train=True, seed=config.seed)
    valid = _batches(patches, eval_idx, config.batch_size, train=False, seed=config.seed)
    weights = (training.balanced_class_weights(patches.labels[fit_idx])
               if config.balance_classes else None)
    model = build_model(config)
    history = training.fit(model, train.map(augment), valid, config, class_weight=weights,
                           verbose=0)
    eval_labels, eval_probability = training.predict_split(model, valid)
    point = training.configured_operating_point(eval_labels, eval_probability, config)
    test = _batches(patches, test_idx, 256, train=False, seed=config.seed)
    _, test_probability = training.predict_split(model, test)
    # The network on each patch as stored, without the other seven views.
    single = model.get_layer(EightViews.NAME).network
    one_view = test.map(lambda features, label: (
        tf.reshape(features[PIXELS], (-1, *SHAPE)), label))
    _, single_view = training.predict_split(single, one_view)
    return {
        "test_probability": test_probability,
        "single_view_probability": single_view,
        "eval_labels": eval_labels,
        "eval_probability": eval_probability,
        "threshold": point.threshold,
        "epochs": len(history.history["loss"]),
    }


def colour_histograms(patches: idc_real.Patches, index: np.ndarray) -> np.ndarray:
    """Per-channel histograms of RGB and HSV, each a distribution over HIST_BINS bins,
    one row per index (ascending, as the folds give them)."""
    from PIL import Image

    rows = []
    for start in range(0, index.size, 2048):
        rgb = np.asarray(patches.pixels[index[start : start + 2048]]).reshape(-1, 50, 50, 3)
        hsv = np.stack([np.asarray(Image.fromarray(p, "RGB").convert("HSV")) for p in rgb])
        channels = np.concatenate([rgb, hsv], axis=3).reshape(len(rgb), -1, 6)
        bins = channels.astype(np.int64) // (256 // HIST_BINS)
        # One bincount for all: patch k, channel c and bin b count at ((k * 6) + c) * bins + b.
        keys = (np.arange(len(rgb))[:, None, None] * 6 + np.arange(6)) * HIST_BINS + bins
        counts = np.bincount(keys.ravel(), minlength=len(rgb) * 6 * HIST_BINS)
        rows.append(counts.reshape(len(rgb), 6 * HIST_BINS) / channels.shape[1])
    return np.concatenate(rows)


def fit_baseline(features: np.ndarray, labels: np.ndarray, train_idx, test_idx) -> np.ndarray:
    """P(IDC) of the test patches from a model of the training patches' colour histograms
    (`features`: one row per patch, from `colour_histograms`)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    baseline = make_pipeline(
        StandardScaler(), LogisticRegression(max_iter=2000, class_weight="balanced"))
    baseline.fit(features[train_idx], labels[train_idx])
    return baseline.predict_proba(features[test_idx])[:, 1]


def youden_threshold(labels: np.ndarray, probability: np.ndarray) -> float:
    """The threshold of the most sensitivity + specificity on these examples."""
    from sklearn.metrics import roc_curve

    fpr, tpr, thresholds = roc_curve(labels, probability)
    return float(min(1.0, thresholds[int(np.argmax(tpr - fpr))]))


def pooled(patches, folds, probability: np.ndarray, thresholds: list[float]):
    """The out-of-fold Scores: each fold's patches called at that fold's threshold."""
    from components.report.metrics import Scores

    decision = np.zeros(len(patches), np.int64)
    for (_, test_idx), threshold in zip(folds, thresholds, strict=True):
        decision[test_idx] = probability[test_idx] >= threshold
    tested = np.sort(np.concatenate([test for _, test in folds]))
    return Scores(patches.labels[tested], probability[tested], decision[tested],
                  patches.patients[tested])


def per_patient(scores) -> dict:
    from components.report.metrics import weighted_metrics

    rows = {}
    for patient in sorted(set(scores.groups)):
        one = scores.subset(scores.groups == patient)
        values = weighted_metrics(one, np.ones((1, len(one))), 10)
        rows[str(patient)] = {
            "patches": len(one), "positives": int(one.labels.sum()),
            **{m: (None if np.isnan(values[m][0]) else round(float(values[m][0]), 4))
               for m in ("auc", "sensitivity", "specificity", "balanced_accuracy")},
        }
    return rows


def _spread(rows: dict, metric: str) -> dict:
    values = [r[metric] for r in rows.values() if r[metric] is not None]
    return {"patients": len(values), "median": float(np.median(values)),
            "min": float(np.min(values)), "max": float(np.max(values))}


def summarise(estimate: dict) -> dict:
    return {m: {k: estimate[m][k] for k in ("value", "low", "high")} | (
        {"change_vs_baseline": {k: estimate[m]["change"][k] for k in ("value", "low", "high")}}
        if "change" in estimate[m] else {}) for m in REPORTED}


def cross_validate(patches: idc_real.Patches, k: int, config, profile) -> dict:
    from components import training
    from components.report.metrics import Scores, estimate, weighted_metrics
    from pipeline.config import REVIEW

    folds = patient_folds(patches.labels, patches.patients, k)
    probability = np.full(len(patches), np.nan)
    single_view = np.full(len(patches), np.nan)
    baseline = np.full(len(patches), np.nan)
    fits, started = [], time.monotonic()
    # Each patch's histograms once, not once for every fold it trains or tests in.
    histograms = colour_histograms(patches, np.arange(len(patches)))
    for n, (train_idx, test_idx) in enumerate(folds, 1):
        fit_idx, eval_idx = inner_split(train_idx, patches, profile)
        fold_started = time.monotonic()
        fit = fit_model(patches, fit_idx, eval_idx, test_idx, config)
        probability[test_idx] = fit["test_probability"]
        single_view[test_idx] = fit["single_view_probability"]
        baseline[test_idx] = fit_baseline(histograms, patches.labels, train_idx, test_idx)
        del fit["single_view_probability"]
        fit.update(
            test_patients=sorted(set(patches.patients[test_idx])),
            eval_patients=sorted(set(patches.patients[eval_idx])),
            train_patients=sorted(set(patches.patients[fit_idx])),
            seconds=round(time.monotonic() - fold_started, 1),
            youden_on_eval=youden_threshold(fit["eval_labels"], fit["eval_probability"]),
        )
        fits.append(fit)
        test = Scores(patches.labels[test_idx], probability[test_idx],
                      (probability[test_idx] >= fit["threshold"]).astype(int),
                      patches.patients[test_idx])
        fold_values = weighted_metrics(test, np.ones((1, len(test))), 10)
        print(f"fold {n}/{k}: {len(test_idx)} patches of {fit['test_patients']}, "
              f"{fit['epochs']} epochs, threshold {fit['threshold']:.3f}, "
              + ", ".join(f"{m} {fold_values[m][0]:.3f}" for m in REPORTED)
              + f" ({fit['seconds']:.0f} s)", flush=True)

    def scored(probabilities, thresholds):
        return pooled(patches, folds, probabilities, thresholds)

    thresholds = [f["threshold"] for f in fits]
    served = scored(probability, thresholds)
    hist = scored(baseline, [0.5] * k)
    bootstrap = dict(resamples=REVIEW.bootstrap_resamples, confidence=REVIEW.confidence,
                     bins=REVIEW.calibration_bins, seed=REVIEW.seed)
    model_estimate = estimate(served, baseline=hist, **bootstrap)
    # Other policies on the same predictions: each threshold is still set without the fold's
    # own patients (pooled: on the other folds' out-of-fold predictions).
    chosen_for_sensitivity = dataclasses.replace(config, fixed_threshold=None)

    def for_sensitivity(labels, probabilities):
        return training.configured_operating_point(
            labels, probabilities, chosen_for_sensitivity).threshold

    others = {
        "fixed_0.5": [0.5] * k,
        "target_sensitivity_on_eval": [
            for_sensitivity(f["eval_labels"], f["eval_probability"]) for f in fits],
        "youden_on_eval": [f["youden_on_eval"] for f in fits],
        "target_sensitivity_on_other_folds": [
            for_sensitivity(patches.labels[rest], probability[rest])
            for rest in (np.concatenate([t for j, (_, t) in enumerate(folds) if j != i])
                         for i in range(k))
        ],
    }
    policies = {
        name: {"thresholds": thresholds,
               **summarise(estimate(scored(probability, thresholds), **bootstrap))}
        for name, thresholds in others.items()
    }
    one_view = summarise(estimate(scored(single_view, thresholds), baseline=served,
                                  **bootstrap))
    patients = per_patient(served)
    return {
        "folds": k,
        "seed": SEED,
        "patients": len(set(patches.patients)),
        "patches": len(patches),
        "positives": int(patches.labels.sum()),
        "seconds": round(time.monotonic() - started, 1),
        "model": summarise(model_estimate),
        "baseline": summarise(estimate(hist, **bootstrap)),
        "thresholds": thresholds,
        "other_threshold_policies": policies,
        # The same models on each patch as stored, not the mean of its 8 views; `change` is
        # single view minus the served 8-view mean, paired over the same resamples.
        "single_view": one_view,
        "per_patient": patients,
        "per_patient_spread": {m: _spread(patients, m)
                               for m in ("auc", "sensitivity", "specificity")},
        "fits": [{key: value for key, value in fit.items()
                  if key not in ("test_probability", "eval_labels", "eval_probability")}
                 for fit in fits],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"{FOLDS[True]} folds on {QUICK_PATIENTS} patients, "
                             f"{QUICK_STEPS} steps: a smoke test")
    parser.add_argument("--root", default=str(idc_real.REAL_ROOT),
                        help="the real patches (default: %(default)s)")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from pipeline.config import IDC

    listed = idc_real.files(args.root)
    config = IDC.training
    if args.quick:
        listed = quick_files(listed)
        config = dataclasses.replace(config, train_steps=QUICK_STEPS,
                                     steps_per_epoch=QUICK_STEPS // 3)
    patches = idc_real.load(listed)
    cv = cross_validate(patches, FOLDS[args.quick], config, IDC)
    details = {
        **cv,
        "training": dataclasses.asdict(config),
        "baseline_model": "StandardScaler + LogisticRegression(class_weight='balanced') on "
                          f"{HIST_BINS}-bin RGB and HSV histograms, threshold 0.5",
        "intervals": "95%, bootstrap over patients (components/report/metrics.estimate)",
    }
    for metric, target in TARGETS.items():
        value = cv["model"][metric]
        common.report(common.Result(
            name=f"idc_quality_{metric}",
            value=value["value"],
            baseline=cv["baseline"][metric]["value"],
            unit=f"pooled out-of-fold {metric}, {cv['patients']} patients "
                 f"[95% CI {value['low']:.3f}-{value['high']:.3f}] (model vs colour histograms)",
            target=target,
            ratio=value["value"],
            details=details,
        ))
    return 0


if __name__ == "__main__":
    sys.exit(main())
