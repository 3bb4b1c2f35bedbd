"""How numbers read on the page."""

from __future__ import annotations

import math

UNDEFINED = "undefined"

METRIC_NAMES = {
    "auc": "AUC (ROC)",
    "sensitivity": "Sensitivity (recall)",
    "specificity": "Specificity",
    "ppv": "PPV (precision)",
    "npv": "NPV",
    "f1": "F1 (malignant class)",
    "balanced_accuracy": "Balanced accuracy",
    "accuracy": "Accuracy",
    "brier_score": "Brier score (lower is better)",
    "ece": "Expected calibration error (lower is better)",
}


def metric(value, digits: int = 3) -> str:
    """A metric's value; None (the report's JSON has no NaN) is a metric with no defined
    value, such as a sensitivity with no positives, never 0."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return UNDEFINED
    return num(value, digits)


def num(value, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()
                                  and abs(value) >= 10):
        return f"{int(value):,}"
    return f"{value:.{digits}f}" if abs(value) >= 10 ** -digits or value == 0 else f"{value:.2e}"


def interval(entry: dict, digits: int = 3) -> str:
    """'0.937 [0.85, 1.00]' for an estimate with its bootstrap interval."""
    if entry.get("value") is None:
        return UNDEFINED
    if entry.get("low") is None:
        return f"{num(entry['value'], digits)} [no interval]"
    return (f"{num(entry['value'], digits)} "
            f"[{num(entry['low'], digits)}, {num(entry['high'], digits)}]")


def signed_interval(entry: dict, digits: int = 3) -> str:
    if entry.get("value") is None:
        return UNDEFINED
    text = f"{entry['value']:+.{digits}f}"
    if entry.get("low") is None:
        return text
    return f"{text} [{entry['low']:+.{digits}f}, {entry['high']:+.{digits}f}]"


def short_hash(value: str) -> str:
    return value.split(":")[-1][:16] if value else ""


def pass_fail(passed: bool) -> tuple[str, str]:
    return ("pass", "good") if passed else ("FAIL", "bad")
