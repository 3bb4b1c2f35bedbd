"""How the run summary shows a threshold's value."""

from pipeline.evaluation import Check


def test_an_undefined_metric_is_shown_as_undefined_never_as_zero():
    line = Check("sensitivity", "label", float("nan"), 0.85, ">=").describe()
    assert line.split() == ["sensitivity", "undefined", ">=", "0.85", "FAIL"]
    assert Check("auc", "probability", None, 0.9, ">=").describe().split()[1] == "missing"
    assert Check("auc", "probability", 0.93, 0.9, ">=").describe().split()[1:] == [
        "0.9300", ">=", "0.9", "pass"]
