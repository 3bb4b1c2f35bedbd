"""What TFMA wrote for the blessing evaluation, copied as it stands.

Thresholds come from the eval config TFMA stored beside its results (what it actually
applied: with nothing served, TFX drops the baseline and with it the change threshold),
pass/fail from TFMA's own validation result.
"""

from __future__ import annotations

import numpy as np
import tensorflow_model_analysis as tfma
from tensorflow_model_analysis.metrics import metric_specs
from tensorflow_model_analysis.proto import config_pb2
from tensorflow_model_analysis.writers import eval_config_writer

from components.report.metrics import calibration_bin
from pipeline.evaluation import BASELINE, CANDIDATE, overall_metrics
from serving.signatures import LABEL, PROBABILITY

# TFMA's names for the report's metrics: (output, TFMA metric name).
TFMA_NAMES = {
    "auc": (PROBABILITY, "auc"),
    "sensitivity": (LABEL, "sensitivity"),
    "specificity": (LABEL, "specificity"),
    "ppv": (LABEL, "precision"),
    "npv": (LABEL, "negative_predictive_value"),
    "f1": (LABEL, "f1_score"),
    "balanced_accuracy": (LABEL, "balanced_accuracy"),
    "accuracy": (LABEL, "binary_accuracy"),
    "brier_score": (PROBABILITY, "brier_score"),
}
_COUNTS = ("true_positives", "false_negatives", "false_positives", "true_negatives")


def _role(model_name: str) -> str:
    return BASELINE if model_name == BASELINE else CANDIDATE


def _overall_values(uri: str) -> dict[str, dict[str, float]]:
    """role ('candidate', 'baseline', 'change') -> 'output/metric' -> value."""
    values: dict[str, dict[str, float]] = {}
    for (model, output, name, is_diff), value in overall_metrics(uri).items():
        role = "change" if is_diff else _role(model)
        values.setdefault(role, {})[f"{output}/{name}"] = value
    return values


def _candidate_overall(records, entries: str, output: str, field: str):
    """The candidate's `field` for `output` in the overall slice of TFMA's metrics or plots
    (`entries`: their repeated key-and-value field)."""
    for sliced in records:
        if sliced.slice_key.single_slice_keys:
            continue
        for entry in getattr(sliced, entries):
            key = entry.key
            if (key.output_name == output and _role(key.model_name) == CANDIDATE
                    and not getattr(key, "is_diff", False) and entry.value.HasField(field)):
                return getattr(entry.value, field)
    raise KeyError(f"TFMA wrote no {field} for the candidate's {output!r} output")


def confusion_at_operating_point(uri: str) -> dict[str, float]:
    """TFMA's confusion matrix of the served `label` output (0/1, so threshold 0.5)."""
    matrices = _candidate_overall(tfma.load_metrics(uri), "metric_keys_and_values", LABEL,
                                  "confusion_matrix_at_thresholds")
    (matrix,) = [m for m in matrices.matrices if m.threshold == 0.5]
    return {name: getattr(matrix, name) for name in _COUNTS}


def expected_calibration_error(uri: str, bins: int) -> float:
    """ECE from TFMA's calibration histogram, its fine buckets merged into `bins`."""
    buckets = _candidate_overall(tfma.load_plots(uri), "plot_keys_and_values", PROBABILITY,
                                 "calibration_histogram_buckets").buckets
    gap, total = np.zeros(bins), 0.0
    for bucket in buckets:
        mid = np.clip((bucket.lower_threshold_inclusive + bucket.upper_threshold_exclusive) / 2,
                      0.0, 1.0)
        k = calibration_bin(np.array([mid]), bins)[0]
        gap[k] += (bucket.total_weighted_refined_prediction.value
                   - bucket.total_weighted_label.value)
        total += bucket.num_weighted_examples.value
    return float(np.abs(gap).sum() / total)


def _bounds(threshold) -> dict:
    if isinstance(threshold, config_pb2.GenericValueThreshold):
        return {
            "kind": "value",
            "lower": threshold.lower_bound.value if threshold.HasField("lower_bound") else None,
            "upper": threshold.upper_bound.value if threshold.HasField("upper_bound") else None,
        }
    direction = config_pb2.MetricDirection.Name(threshold.direction)
    return {
        "kind": "change",
        "direction": direction,
        "absolute": threshold.absolute.value if threshold.HasField("absolute") else None,
        "relative": threshold.relative.value if threshold.HasField("relative") else None,
    }


def _failures(uri: str) -> list[tuple[tuple, bytes]]:
    result = tfma.load_validation_result(uri)
    failed = []
    for per_slice in result.metric_validations_per_slice:
        for failure in per_slice.failures:
            key = failure.metric_key
            threshold = failure.metric_threshold
            which = threshold.value_threshold if threshold.HasField(
                "value_threshold") else threshold.change_threshold
            failed.append(((key.output_name, key.name, key.is_diff),
                           which.SerializeToString()))
    return failed


def thresholds(uri: str) -> list[dict]:
    """Every threshold TFMA applied, with the measured value and TFMA's pass/fail."""
    eval_config = eval_config_writer.load_eval_run(uri)[0]
    values = _overall_values(uri)
    failed = _failures(uri)
    rows = []
    for key, entries in metric_specs.metric_thresholds_from_metrics_specs(
        eval_config.metrics_specs, eval_config
    ).items():
        if _role(key.model_name) == BASELINE:
            continue
        for _, threshold in entries:
            role = "change" if key.is_diff else CANDIDATE
            rows.append({
                "metric": key.name,
                "output": key.output_name,
                **_bounds(threshold),
                "value": values.get(role, {}).get(f"{key.output_name}/{key.name}"),
                "passed": ((key.output_name, key.name, key.is_diff),
                           threshold.SerializeToString()) not in failed,
            })
    return sorted(rows, key=lambda r: (r["kind"], r["output"], r["metric"]))


def read(uri: str, bins: int, split: str) -> dict:
    """Everything the report shows from the blessing evaluation, which ran on `split`."""
    values = _overall_values(uri)
    return {
        "uri": uri,
        "split": split,
        "validation_ok": bool(tfma.load_validation_result(uri).validation_ok),
        "metrics": values,
        "thresholds": thresholds(uri),
        "confusion": confusion_at_operating_point(uri),
        "ece": expected_calibration_error(uri, bins),
    }


def report_metric(tfma_metrics: dict[str, float], name: str) -> float | None:
    """A report metric's value as TFMA computed it, None where TFMA does not compute it."""
    if name not in TFMA_NAMES:
        return None
    output, tfma_name = TFMA_NAMES[name]
    return tfma_metrics.get(f"{output}/{tfma_name}")
