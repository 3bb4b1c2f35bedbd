"""Binary-classification metrics at the operating threshold, with patient-level bootstrap.

Every metric is computed on example weights: all ones gives the point estimate, and a
resample is the same computation with each example weighted by how often its patient
(cluster) was drawn. One code path for both means the interval and the estimate cannot
disagree on what is measured.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
from scipy import stats

# Label 1 = malignant / IDC-positive everywhere; `decision` is the served `label` output.
METRICS = (
    "auc",
    "sensitivity",
    "specificity",
    "ppv",
    "npv",
    "f1",
    "balanced_accuracy",
    "accuracy",
    "brier_score",
    "ece",
)
LOWER_IS_BETTER = frozenset({"brier_score", "ece"})
# Keeps a chunk of resample weights near 40 MB whatever the split size.
_CHUNK_CELLS = 5_000_000


@dataclass(frozen=True)
class Scores:
    """One split as the served model sees it."""

    labels: np.ndarray  # int 0/1
    probability: np.ndarray  # float64, P(label = 1)
    decision: np.ndarray  # int 0/1 at the operating threshold
    groups: np.ndarray  # partition value (patient, id) of each example

    def subset(self, mask: np.ndarray) -> Scores:
        return Scores(
            self.labels[mask], self.probability[mask], self.decision[mask], self.groups[mask]
        )

    def __len__(self) -> int:
        return int(self.labels.size)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def calibration_bin(probability: np.ndarray, bins: int) -> np.ndarray:
    """Equal-width bins [k/bins, (k+1)/bins); a probability of exactly 1 joins the last."""
    return np.minimum((np.asarray(probability) * bins).astype(int), bins - 1)


def _auc(scores: Scores, weights: np.ndarray) -> np.ndarray:
    """Weighted Mann-Whitney AUC per weight row; tied scores count one half."""
    order = np.argsort(scores.probability, kind="stable")
    ranked = scores.probability[order]
    starts = np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]])
    positive = scores.labels[order] == 1
    w = weights[:, order]
    pos = np.add.reduceat(np.where(positive, w, 0.0), starts, axis=1)
    neg = np.add.reduceat(np.where(positive, 0.0, w), starts, axis=1)
    below = np.cumsum(neg, axis=1) - neg
    wins = np.sum(pos * (below + 0.5 * neg), axis=1)
    return _ratio(wins, pos.sum(axis=1) * neg.sum(axis=1))


def weighted_metrics(scores: Scores, weights: np.ndarray, bins: int) -> dict[str, np.ndarray]:
    """Each metric for each row of `weights` (shape [resamples, examples])."""
    y = scores.labels.astype(float)
    d = scores.decision.astype(float)
    tp, fn = weights @ (y * d), weights @ (y * (1 - d))
    fp, tn = weights @ ((1 - y) * d), weights @ ((1 - y) * (1 - d))
    total = tp + fn + fp + tn
    sensitivity, specificity = _ratio(tp, tp + fn), _ratio(tn, tn + fp)
    onehot = np.eye(bins)[calibration_bin(scores.probability, bins)]
    gap = weights @ (onehot * (scores.probability - y)[:, None])
    return {
        "auc": _auc(scores, weights),
        "sensitivity": sensitivity,
        "specificity": specificity,
        "ppv": _ratio(tp, tp + fp),
        "npv": _ratio(tn, tn + fn),
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
        "balanced_accuracy": (sensitivity + specificity) / 2,
        "accuracy": _ratio(tp + tn, total),
        "brier_score": _ratio(weights @ (scores.probability - y) ** 2, total),
        "ece": _ratio(np.abs(gap).sum(axis=1), total),
    }


def confusion(scores: Scores) -> dict[str, int]:
    y, d = scores.labels, scores.decision
    return {
        "true_positives": int(np.sum((y == 1) & (d == 1))),
        "false_negatives": int(np.sum((y == 1) & (d == 0))),
        "false_positives": int(np.sum((y == 0) & (d == 1))),
        "true_negatives": int(np.sum((y == 0) & (d == 0))),
    }


# Proportions of counts: (numerator, denominator) in confusion-matrix cells.
PROPORTIONS = {
    "sensitivity": (("true_positives",), ("true_positives", "false_negatives")),
    "specificity": (("true_negatives",), ("true_negatives", "false_positives")),
    "ppv": (("true_positives",), ("true_positives", "false_positives")),
    "npv": (("true_negatives",), ("true_negatives", "false_negatives")),
    "accuracy": (("true_positives", "true_negatives"),
                 ("true_positives", "true_negatives", "false_positives", "false_negatives")),
}


def exact_intervals(confusion: dict[str, int], confidence: float) -> dict[str, dict]:
    """Clopper-Pearson intervals of the count proportions, treating examples as
    independent. They stay honest where the bootstrap cannot: with no error among n
    cases every resample agrees and the bootstrap interval has zero width."""
    alpha = 1 - confidence
    result = {}
    for name, (num_cells, den_cells) in PROPORTIONS.items():
        k = sum(confusion[c] for c in num_cells)
        n = sum(confusion[c] for c in den_cells)
        if n == 0:
            result[name] = {"successes": k, "trials": n, "low": None, "high": None}
            continue
        low = 0.0 if k == 0 else float(stats.beta.ppf(alpha / 2, k, n - k + 1))
        high = 1.0 if k == n else float(stats.beta.ppf(1 - alpha / 2, k + 1, n - k))
        result[name] = {"successes": k, "trials": n, "low": low, "high": high}
    return result


def _cluster_weights(groups: np.ndarray, resamples: int, rng: np.random.Generator):
    """Chunks of example weights, each row one resample of the clusters with replacement."""
    _, cluster = np.unique(groups, return_inverse=True)
    clusters = int(cluster.max()) + 1
    chunk = max(1, _CHUNK_CELLS // max(1, groups.size))
    for start in range(0, resamples, chunk):
        rows = min(chunk, resamples - start)
        drawn = rng.multinomial(clusters, np.full(clusters, 1.0 / clusters), size=rows)
        yield drawn[:, cluster].astype(float)


def _interval(value: float, samples: np.ndarray, z: float, bounds=(0.0, 1.0)) -> dict:
    defined = samples[~np.isnan(samples)]
    result = {"value": None if np.isnan(value) else float(value), "low": None, "high": None,
              "standard_error": None, "resamples_defined": int(defined.size)}
    if result["value"] is None or defined.size < 2:
        return result
    se = float(np.std(defined, ddof=1))
    result.update(
        standard_error=se,
        low=max(bounds[0], value - z * se),
        high=min(bounds[1], value + z * se),
    )
    return result


def estimate(
    scores: Scores,
    *,
    resamples: int,
    confidence: float,
    bins: int,
    seed: int,
    baseline: Scores | None = None,
) -> dict[str, dict]:
    """Point estimate and bootstrap interval of every metric.

    The interval is the estimate +- z * (bootstrap standard error), the construction TFMA
    uses, clipped to the metric's range [0, 1]. With a baseline scored on the same examples, the difference
    (this - baseline) gets a paired interval from the same resamples.
    """
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    point = weighted_metrics(scores, np.ones((1, len(scores))), bins)
    rng = np.random.default_rng(seed)
    samples = {name: [] for name in METRICS}
    diffs = {name: [] for name in METRICS}
    base_point = None
    if baseline is not None:
        if not np.array_equal(baseline.groups, scores.groups):
            raise ValueError("baseline scored on different examples")
        base_point = weighted_metrics(baseline, np.ones((1, len(scores))), bins)
    if np.unique(scores.groups).size >= 2:
        for weights in _cluster_weights(scores.groups, resamples, rng):
            drawn = weighted_metrics(scores, weights, bins)
            for name in METRICS:
                samples[name].append(drawn[name])
            if baseline is not None:
                base = weighted_metrics(baseline, weights, bins)
                for name in METRICS:
                    diffs[name].append(drawn[name] - base[name])
    result = {}
    for name in METRICS:
        drawn = np.concatenate(samples[name]) if samples[name] else np.empty(0)
        result[name] = _interval(point[name][0], drawn, z)
        if base_point is not None:
            diff = np.concatenate(diffs[name]) if diffs[name] else np.empty(0)
            change = point[name][0] - base_point[name][0]
            result[name]["baseline"] = _interval(base_point[name][0], np.empty(0), z)
            result[name]["change"] = _interval(change, diff, z, bounds=(-1.0, 1.0))
    return result


def _called_counts(scores: Scores) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(thresholds, true positives, false positives) calling `probability >= threshold`,
    at every distinct score from the highest down."""
    order = np.argsort(-scores.probability, kind="stable")
    ranked = scores.probability[order]
    positive = scores.labels[order] == 1
    last = np.flatnonzero(np.r_[ranked[1:] != ranked[:-1], True])
    return ranked[last], np.cumsum(positive)[last], np.cumsum(~positive)[last]


def roc_points(scores: Scores) -> list[tuple[float, float, float]]:
    """(false positive rate, true positive rate, threshold), from the strictest threshold."""
    thresholds, tp, fp = _called_counts(scores)
    positives, negatives = max(1, tp[-1]), max(1, fp[-1])
    return [(0.0, 0.0, 1.0)] + [
        (float(f / negatives), float(t / positives), float(th))
        for th, t, f in zip(thresholds, tp, fp, strict=True)
    ]


def pr_points(scores: Scores) -> list[tuple[float, float, float]]:
    """(recall, precision, threshold) at every distinct score."""
    thresholds, tp, fp = _called_counts(scores)
    positives = max(1, tp[-1])
    return [
        (float(t / positives), float(t / (t + f)), float(th))
        for th, t, f in zip(thresholds, tp, fp, strict=True)
    ]


def thin(points: list, limit: int) -> list:
    """At most `limit` points, always keeping the first and the last."""
    if len(points) <= limit:
        return points
    keep = np.unique(np.linspace(0, len(points) - 1, limit).round().astype(int))
    return [points[i] for i in keep]


def calibration(scores: Scores, bins: int) -> list[dict]:
    """Per equal-width bin: examples, mean P(malignant), observed rate of malignancy."""
    index = calibration_bin(scores.probability, bins)
    rows = []
    for k in range(bins):
        inside = index == k
        n = int(np.sum(inside))
        rows.append({
            "low": k / bins,
            "high": (k + 1) / bins,
            "examples": n,
            "mean_probability": float(np.mean(scores.probability[inside])) if n else None,
            "observed_rate": float(np.mean(scores.labels[inside])) if n else None,
        })
    return rows
