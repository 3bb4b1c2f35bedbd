"""The model section: how good the candidate is on eval and test, and for whom."""

from __future__ import annotations

import numpy as np

from components import artifacts
from components.baseline import NO_BASELINE
from components.report import metrics, scoring, sql_slices, tfma_results
from pipeline.config import TRAIN_SPLIT, Profile, Review
from serving.signatures import read_model_info

# TFMA buckets scores into 10,000 thresholds; its AUC may differ from the exact one by
# the pairs that share a bucket. Counts and ratios of counts must agree exactly.
AUC_TOLERANCE = 1e-3
EXACT_TOLERANCE = 1e-9
# Brier and ECE: TFMA sums float32 predictions.
SUM_TOLERANCE = 1e-6


def held_out_splits(examples) -> list[str]:
    return [s for s in artifacts.split_names(examples) if s != TRAIN_SPLIT]


def _estimate(scores: metrics.Scores, review: Review, baseline=None) -> dict:
    return metrics.estimate(
        scores, resamples=review.bootstrap_resamples, confidence=review.confidence,
        bins=review.calibration_bins, seed=review.seed, baseline=baseline,
    )


def _operating_point(estimates: dict) -> dict:
    return {
        "false_positive_rate": None if estimates["specificity"]["value"] is None
        else 1 - estimates["specificity"]["value"],
        "sensitivity": estimates["sensitivity"]["value"],
        "ppv": estimates["ppv"]["value"],
    }


def _split_section(scores: metrics.Scores, review: Review, baseline) -> dict:
    estimates = _estimate(scores, review, baseline)
    confusion = metrics.confusion(scores)
    for name, interval in metrics.exact_intervals(confusion, review.confidence).items():
        estimates[name]["exact"] = interval
    return {
        "examples": len(scores),
        "positives": int(np.sum(scores.labels == 1)),
        "partitions": int(np.unique(scores.groups).size),
        "positive_partitions": int(np.unique(scores.groups[scores.labels == 1]).size),
        "metrics": estimates,
        "confusion": confusion,
        "roc": metrics.thin(metrics.roc_points(scores), review.curve_points),
        "pr": metrics.thin(metrics.pr_points(scores), review.curve_points),
        "calibration": metrics.calibration(scores, review.calibration_bins),
        "operating_point": _operating_point(estimates),
    }


def _tolerance(name: str) -> float:
    if name == "auc":
        return AUC_TOLERANCE
    return SUM_TOLERANCE if name in ("brier_score", "ece") else EXACT_TOLERANCE


def cross_check(own: dict, tfma: dict) -> list[dict]:
    """The report's numbers on the split TFMA evaluated next to TFMA's, each within its
    tolerance or not."""
    rows = []
    for name in metrics.METRICS:
        theirs = tfma["ece"] if name == "ece" else tfma_results.report_metric(
            tfma["metrics"].get("candidate", {}), name)
        ours = own["metrics"][name]["value"]
        rows.append({
            "metric": name, "report": ours, "tfma": theirs, "tolerance": _tolerance(name),
            "agree": None if theirs is None or ours is None
            else abs(ours - theirs) <= _tolerance(name),
        })
    for name, count in own["confusion"].items():
        theirs = tfma["confusion"][name]
        rows.append({"metric": name, "report": count, "tfma": theirs, "tolerance": 0,
                     "agree": count == theirs})
    return rows


def _quantile_edges(examples, feature: str, bins: int) -> list[float]:
    values = scoring.read_features(examples, TRAIN_SPLIT, [feature])[feature]
    return [float(q) for q in np.quantile(values, np.linspace(0, 1, bins + 1))[1:-1]]


def _slice_masks(examples, split: str, profile: Profile, edges: dict):
    """(feature, slice label, mask) for every slice of one split."""
    categorical = sorted({key for keys in profile.slices for key in keys})
    computed_from = sorted({f for spec in profile.sql_slices for f in spec.features})
    values = scoring.read_features(examples, split, categorical + list(edges) + computed_from)
    for feature in categorical:
        for value in sorted(set(values[feature].tolist())):
            yield feature, f"{feature} = {value}", values[feature] == value
    for spec in profile.sql_slices:
        # A value no example of this split has (no edge patch in it) gives no row.
        computed = sql_slices.slice_values(spec, values)
        for value in sorted({v for v in computed.tolist() if v is not None}):
            yield spec.key, f"{spec.key} = {value}", computed == value
    for feature, cuts in edges.items():
        index = np.searchsorted(cuts, values[feature], side="right")
        for k in range(len(cuts) + 1):
            if k == 0:
                label = f"{feature} < {cuts[0]:.4g}"
            elif k == len(cuts):
                label = f"{feature} >= {cuts[-1]:.4g}"
            else:
                label = f"{feature} in [{cuts[k - 1]:.4g}, {cuts[k]:.4g})"
            yield feature, label, index == k


def slices(examples, scored: dict, profile: Profile, review: Review) -> dict:
    """Every slice of every held-out split, the worst (lowest accuracy) first."""
    edges = {f: _quantile_edges(examples, f, review.quantile_bins)
             for f in profile.quantile_slices}
    rows = []
    for split, scores in scored.items():
        for feature, label, mask in _slice_masks(examples, split, profile, edges):
            part = scores.subset(mask)
            if not len(part):
                continue
            rows.append({
                "split": split, "feature": feature, "slice": label,
                "examples": len(part), "positives": int(np.sum(part.labels == 1)),
                "partitions": int(np.unique(part.groups).size),
                "metrics": _estimate(part, review),
            })
    rows.sort(key=lambda r: (r["metrics"]["accuracy"]["value"], r["split"], r["slice"]))
    return {"quantile_edges": edges, "rows": rows}


def _served_baseline(baseline_model) -> int:
    if baseline_model is None:
        return NO_BASELINE
    return int(baseline_model.get_int_custom_property("served_version"))


def section(
    *, profile: Profile, review: Review, examples, model, baseline_model, evaluation
) -> dict:
    """Metrics with intervals per held-out split, curves, slices, TFMA's thresholds."""
    model_path = scoring.model_dir(model)
    info = read_model_info(model_path)
    served = _served_baseline(baseline_model)
    scored, splits, empty = {}, {}, []
    for split in held_out_splits(examples):
        scores = scoring.score(model_path, examples, split, label_key=profile.label_key,
                               partition_key=profile.partition_key)
        if not len(scores):
            empty.append(split)
            continue
        scored[split] = scores
        base = None
        if served != NO_BASELINE:
            base = scoring.score(scoring.model_dir(baseline_model), examples, split,
                                 label_key=profile.label_key,
                                 partition_key=profile.partition_key)
        splits[split] = _split_section(scored[split], review, base)
    tfma = (tfma_results.read(evaluation.uri, review.calibration_bins, profile.blessing_split)
            if evaluation else None)
    return {
        "model_uri": model.uri,
        "threshold": info["threshold"],
        "info": info,
        "splits": splits,
        "empty_splits": empty,
        "tfma": tfma,
        "cross_check": cross_check(splits[tfma["split"]], tfma)
        if tfma and tfma["split"] in splits else [],
        "slices": slices(examples, scored, profile, review),
        "baseline": {"served_version": served,
                     "uri": baseline_model.uri if served != NO_BASELINE else None},
        "bootstrap": {
            "resamples": review.bootstrap_resamples, "confidence": review.confidence,
            "unit": profile.partition_key, "seed": review.seed,
            "method": "estimate +- z * bootstrap standard error, clipped to [0, 1]",
        },
    }
