"""The review report's figures for the KFP run page (system.Metrics custom properties)."""

from components.review_report import blessing_metrics

THRESHOLDS = [
    {"metric": "auc", "output": "probability", "kind": "value", "value": 0.97, "passed": True},
    {"metric": "auc", "output": "probability", "kind": "change", "value": -0.01, "passed": True},
    {"metric": "specificity", "output": "label", "kind": "value", "value": None, "passed": False},
]


def test_the_blessing_is_told_by_the_thresholds_it_was_decided_on():
    report = {"decision": {"blessed": False}, "model": {"tfma": {"thresholds": THRESHOLDS}}}
    # An undefined figure is left out rather than shown as 0.
    assert blessing_metrics(report) == {"blessed": 0.0, "auc": 0.97, "auc_change": -0.01}


def test_a_run_without_an_evaluated_model_has_no_figures():
    assert blessing_metrics({"decision": {"blessed": None}, "model": {"trained": False}}) == {}
