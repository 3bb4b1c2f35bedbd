"""What the gate refuses a cohort for, and the words it says it in."""

import json

from components.cohort import describe_evidence, problems, requirements, rests_on
from pipeline.config import IDC, WDBC

REQUIRED = json.loads(requirements(IDC))  # 7/1/2, test: 3 patients, 2 positive, 50 and 50


def _proof(splits: dict[str, tuple[int, int, int, int]], label_key: str = "label") -> dict:
    """split -> (patients, positive patients, examples, positives)."""
    return {
        "partition_key": "patient_id", "label_key": label_key,
        "splits": {name: {"partitions": p, "positive_partitions": pp, "examples": e,
                          "positives": pos} for name, (p, pp, e, pos) in splits.items()},
    }


def test_a_cohort_with_enough_patients_passes():
    proof = _proof({"train": (11, 11, 9000, 2500), "eval": (4, 4, 3000, 900),
                    "test": (4, 4, 3000, 800)})
    assert problems(proof, REQUIRED) == []
    assert describe_evidence(rests_on(proof, "test")) == (
        "4 patients (4 with label 1), 3,000 examples (800 with label 1)")


def test_an_empty_split_is_named_with_the_patients_the_run_needs():
    proof = _proof({"train": (2, 2, 800, 300), "eval": (0, 0, 0, 0), "test": (0, 0, 0, 0)})
    found = problems(proof, REQUIRED)
    assert [p["split"] for p in found] == ["eval", "test"]
    assert found[0]["message"] == (
        "the eval split holds no patient: with --splits 7,1,2 (train,eval,test) the run needs "
        "at least 13 patients, and it has 2")


def test_a_blessing_split_too_small_to_stand_behind_a_blessing():
    proof = _proof({"train": (4, 4, 1600, 400), "eval": (1, 1, 400, 100),
                    "test": (1, 1, 300, 30)})
    messages = [p["message"] for p in problems(proof, REQUIRED)]
    assert messages == [
        "the test split holds 1 patient; a blessing rests on at least 3 there: with --splits "
        "7,1,2 (train,eval,test) the run needs at least 13 patients, and it has 6",
        "the test split holds 1 patient with label = 1; a blessing rests on at least 2 there",
        "the test split holds 30 examples with label = 1; a blessing rests on at least 50 there",
    ]


def test_a_split_without_one_of_the_classes_cannot_be_trained_tuned_or_blessed_on():
    proof = _proof({"train": (11, 11, 9000, 2500), "eval": (4, 0, 3000, 0),
                    "test": (4, 4, 3000, 800)})
    assert problems(proof, REQUIRED) == [{"split": "eval", "message": (
        "the eval split holds no example with label = 1 (its 4 patients): every split needs "
        "both classes")}]


def test_one_class_data_is_refused_as_such_and_nothing_else_is_said():
    benign = _proof({"train": (450, 0, 450, 0), "eval": (60, 0, 60, 0), "test": (59, 0, 59, 0)},
                    label_key="diagnosis")
    assert problems(benign, json.loads(requirements(WDBC))) == [{"split": None, "message": (
        "the data hold one class only: all 569 examples have diagnosis = 0; a model needs "
        "examples of both diagnosis = 0 and diagnosis = 1")}]
    positive = _proof({"train": (2, 2, 10, 10), "eval": (1, 1, 5, 5), "test": (1, 1, 5, 5)})
    assert "all 20 examples have label = 1" in problems(positive, REQUIRED)[0]["message"]
