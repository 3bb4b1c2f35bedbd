"""Reads the Evaluator's output back: each threshold with its value, and the verdict."""

from __future__ import annotations

import math
from dataclasses import dataclass

import tensorflow_model_analysis as tfma
from tensorflow.python.util import deprecation

from pipeline.config import Profile
from serving.signatures import LABEL, PROBABILITY

CANDIDATE = "candidate"
BASELINE = "baseline"
# TFMA drops the model names when no baseline is evaluated (the first push).
_CANDIDATE_NAMES = (CANDIDATE, "")


@dataclass(frozen=True)
class Check:
    metric: str
    output: str
    value: float | None
    bound: float
    kind: str  # ">=" for a value threshold, "change >=" against the baseline

    @property
    def passed(self) -> bool:
        return self.value is not None and self.value >= self.bound

    def describe(self) -> str:
        if self.value is None:
            shown = "missing"
        else:
            # TFMA writes NaN where a metric has no value (a sensitivity with no positives).
            shown = "undefined" if math.isnan(self.value) else f"{self.value:.4f}"
        verdict = "pass" if self.passed else "FAIL"
        return f"{self.metric:<12} {shown:>8}  {self.kind} {self.bound:g}  {verdict}"


def overall_metrics(evaluation_uri: str) -> dict[tuple[str, str, str, bool], float]:
    """(model, output, metric, is_diff) -> value, for the overall slice."""
    values = {}
    # TFMA reads its own files through a TF iterator that TF calls deprecated: nothing a
    # reader of the run's summary can act on.
    with deprecation.silence():
        loaded = list(tfma.load_metrics(evaluation_uri))
    for sliced in loaded:
        if sliced.slice_key.single_slice_keys:
            continue
        for entry in sliced.metric_keys_and_values:
            key = entry.key
            if key.HasField("sub_key") or not entry.value.HasField("double_value"):
                continue
            values[(key.model_name, key.output_name, key.name, key.is_diff)] = (
                entry.value.double_value.value
            )
    return values


def threshold_checks(profile: Profile, evaluation_uri: str) -> list[Check]:
    t = profile.thresholds
    metrics = overall_metrics(evaluation_uri)

    def value(output: str, name: str, is_diff: bool = False) -> float | None:
        found = (metrics.get((model, output, name, is_diff)) for model in _CANDIDATE_NAMES)
        return next((v for v in found if v is not None), None)

    checks = [
        Check("accuracy", LABEL, value(LABEL, "binary_accuracy"), t.accuracy, ">="),
        Check("auc", PROBABILITY, value(PROBABILITY, "auc"), t.auc, ">="),
        Check("sensitivity", LABEL, value(LABEL, "sensitivity"), t.sensitivity, ">="),
        Check("specificity", LABEL, value(LABEL, "specificity"), t.specificity, ">="),
    ]
    diff = value(PROBABILITY, "auc", is_diff=True)
    if diff is not None:
        checks.append(Check("auc", PROBABILITY, diff, -t.auc_change_tolerance, "change >="))
    return checks


def baseline_value(evaluation_uri: str, output: str, name: str) -> float | None:
    return overall_metrics(evaluation_uri).get((BASELINE, output, name, False))
