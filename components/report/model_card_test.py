import dataclasses

import pytest

from components.report import model_card
from pipeline.config import IDC, WDBC

EVIDENCE = {"split": "test", "patients": 57, "positive_patients": 21, "examples": 57,
            "positives": 21}


def _report(model: dict) -> dict:
    return {
        "run": {"pipeline": "bcpipe-wdbc", "generated_at": "2026-11-24T00:00:00+00:00"},
        "decision": {"status": "blessed", "version": 7},
        "lineage": {"code_version": "abc123"},
        "data": {"class_balance": {"train": {"1": 170}, "eval": {"1": 21}, "test": {"1": 21}},
                 "gate": {"blessing_evidence": EVIDENCE}},
        "model": model,
    }


def _trained(training: dict) -> dict:
    return {
        "trained": True,
        "threshold": 0.31,
        "info": {"threshold": 0.31, "training": training,
                 "operating_point": {"policy": "fixed", "chosen_on": None,
                                     "eval_sensitivity": 0.8, "eval_specificity": 0.9}},
        "splits": {},
        "slices": {"rows": []},
    }


def test_card_describes_the_networks_the_model_was_trained_with_not_the_config():
    trained_with = dataclasses.asdict(dataclasses.replace(WDBC.training, ensemble_members=5))
    card = model_card.build(_report(_trained(trained_with)), WDBC)
    details = card["model_details"]
    assert details["type"].startswith("5 one-dimensional convolutional networks")
    assert "the mean of theirs" in details["type"]
    assert details["operating_threshold"] == 0.31 and details["version"] == 7
    assert details["operating_threshold_policy"]["policy"] == "fixed"
    assert details["operating_threshold_policy"]["eval_specificity"] == 0.9
    assert card["training_data"]["split"] == {"1": 170}
    assert "train" not in card["evaluation_data"]["splits"]
    assert card["metrics"]["rests_on"] == EVIDENCE


def test_one_network_is_described_as_one():
    trained_with = dataclasses.asdict(dataclasses.replace(WDBC.training, ensemble_members=1))
    card = model_card.build(_report(_trained(trained_with)), WDBC)
    assert card["model_details"]["type"].startswith("A one-dimensional convolutional network")
    assert "mean" not in card["model_details"]["type"]


def test_untrained_run_describes_the_configured_model():
    untrained = {"trained": False, "splits": {}, "slices": {"rows": []}}
    card = model_card.build(_report(untrained), WDBC)
    members = WDBC.training.ensemble_members
    assert card["model_details"]["type"].startswith(f"{members} one-dimensional")
    assert card["metrics"]["test"] == [] and card["model_details"]["operating_threshold"] is None
    assert card["model_details"]["operating_threshold_policy"] is None


def test_idc_has_no_description_of_an_ensemble():
    one = model_card.build(_report(_trained(dataclasses.asdict(IDC.training))), IDC)
    assert one["model_details"]["type"].startswith("A 2D convolutional network")
    trained_with = dataclasses.asdict(dataclasses.replace(IDC.training, ensemble_members=2))
    with pytest.raises(KeyError):
        model_card.build(_report(_trained(trained_with)), IDC)


def test_class_weights_are_stated_with_what_they_do_to_the_probability():
    trained = _trained(dataclasses.asdict(WDBC.training))
    trained["info"]["class_weights"] = {"0": 0.8, "1": 1.36}  # JSON keys, as model_info
    card = model_card.build(_report(trained), WDBC)
    assert card["training_data"]["class_weights"] == {"0": 0.8, "1": 1.36}
    caveat = card["caveats_and_recommendations"][-1]
    assert "about 1.7 times as high" in caveat and "malignant 1.36, benign 0.80" in caveat
    # Equal weights, or none recorded, change nothing.
    trained["info"]["class_weights"] = {"0": 1.0, "1": 1.0}
    equal = model_card.build(_report(trained), WDBC)
    del trained["info"]["class_weights"]
    unweighted = model_card.build(_report(trained), WDBC)
    assert equal["caveats_and_recommendations"] == unweighted["caveats_and_recommendations"]
    assert not any("class weights" in c for c in unweighted["caveats_and_recommendations"])
