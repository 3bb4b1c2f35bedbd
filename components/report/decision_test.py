from tfx.types import standard_artifacts

from components.report import decision

PASSED = {"gate": {"passed": True, "leaks": {}}, "anomalies": {}}
THRESHOLDS = [
    {"metric": "auc", "output": "probability", "kind": "value", "value": 0.99, "passed": True},
    {"metric": "sensitivity", "output": "label", "kind": "value", "value": 0.8,
     "passed": False},
]


def _blessing(blessed: int):
    artifact = standard_artifacts.ModelBlessing()
    artifact.set_int_custom_property("blessed", blessed)
    return artifact


def _pushed(version: str, fresh: int):
    artifact = standard_artifacts.PushedModel()
    artifact.set_int_custom_property("pushed", 1)
    artifact.set_int_custom_property("newly_pushed", fresh)
    artifact.set_string_custom_property("pushed_version", version)
    artifact.set_string_custom_property("pushed_destination", f"/serving/wdbc/{version}")
    return artifact


def test_a_rejected_span_names_each_anomaly_and_leak():
    data = {"gate": {"passed": False, "leaks": {"eval&train": ["7", "9"]}},
            "splits": {"partition_key": "id"},
            "anomalies": {"train": [{"feature": "area_mean", "short_description": "Out-of-range",
                                     "meaning": "a negative area"}]}}
    found = decision.decide(data, {"trained": False}, blessing=None, pushed=None)
    assert found["status"] == decision.REJECTED and not found["pushed"]
    assert found["reasons"] == ["[train] area_mean: Out-of-range - a negative area",
                                "eval&train: 2 shared id value(s)"]


def test_not_blessed_lists_the_failed_thresholds():
    model = {"trained": True, "tfma": {"thresholds": THRESHOLDS, "split": "test"}}
    found = decision.decide(PASSED, model, blessing=_blessing(0), pushed=None)
    assert found["status"] == decision.NOT_BLESSED
    assert found["summary"].endswith("missed its thresholds on test.")
    assert found["reasons"] == ["label/sensitivity = 0.8 misses its value threshold"]


def test_released_and_already_served():
    model = {"trained": True, "tfma": {"thresholds": THRESHOLDS[:1], "split": "test"}}
    fresh = decision.decide(PASSED, model, blessing=_blessing(1), pushed=_pushed("3", 1))
    assert (fresh["status"], fresh["version"]) == (decision.RELEASED, "3")
    assert fresh["reasons"] == ["all 1 thresholds passed on the test split"]
    again = decision.decide(PASSED, model, blessing=_blessing(1), pushed=_pushed("3", 0))
    assert again["status"] == decision.SERVED and "not pushed again" in again["summary"]
    failed = decision.decide(PASSED, {"trained": False}, blessing=None, pushed=None)
    assert failed["status"] == decision.FAILED
