"""Patients to splits: none empty when there are enough, none in two, the same every run."""

import random

import pytest

from components.split_assignment import allocate, assign, patients_needed

DEFAULT = (("train", 8), ("eval", 1), ("test", 1))


@pytest.mark.parametrize("n, sizes", [
    (3, [1, 1, 1]), (5, [3, 1, 1]), (8, [6, 1, 1]), (12, [10, 1, 1]), (19, [15, 2, 2]),
    (30, [24, 3, 3]), (2, [1, 1, 0]), (0, [0, 0, 0]),
])
def test_sizes_follow_the_proportions_with_no_split_empty_once_there_are_enough(n, sizes):
    assert allocate(n, DEFAULT) == sizes


def _cohort(n: int, positives: int, seed: int = 0) -> dict[str, bool]:
    ids = random.Random(seed).sample(range(8000, 16000), n)
    return {str(p): i < positives for i, p in enumerate(ids)}


@pytest.mark.parametrize("n", [3, 4, 5, 8, 12, 19, 30, 279])
@pytest.mark.parametrize("weights", [DEFAULT, (("train", 6), ("eval", 2), ("test", 2))])
def test_every_patient_in_exactly_one_split_and_no_split_empty(n, weights):
    patients = _cohort(n, positives=n // 2)
    assignment = assign(patients, weights)
    assert set(assignment) == set(patients)
    held = {name: [p for p, s in assignment.items() if s == name] for name, _ in weights}
    assert [len(held[name]) for name, _ in weights] == allocate(n, weights)
    assert all(held.values())


def test_each_split_gets_a_positive_patient_while_they_last():
    for positives in (3, 4, 10):
        assignment = assign(_cohort(19, positives), DEFAULT)
        patients = _cohort(19, positives)
        assert {s for p, s in assignment.items() if patients[p]} == {"train", "eval", "test"}
    two = _cohort(19, 2)
    assert sorted(s for p, s in assign(two, DEFAULT).items() if two[p]) == ["eval", "train"]


def test_the_same_ids_give_the_same_assignment_in_any_order():
    patients = _cohort(40, 25)
    shuffled = dict(random.Random(3).sample(sorted(patients.items()), len(patients)))
    assert assign(shuffled, DEFAULT) == assign(patients, DEFAULT)
    assert assign(patients, DEFAULT) != assign(_cohort(40, 25, seed=1), DEFAULT)


def test_patients_needed_for_a_blessing_split_of_a_given_size():
    assert patients_needed(DEFAULT, "test", 1) == 3
    # 26 patients: 20.8 / 2.6 / 2.6 gives the two spare ones to train and eval.
    assert allocate(26, DEFAULT) == [21, 3, 2] and allocate(27, DEFAULT) == [21, 3, 3]
    assert patients_needed(DEFAULT, "test", 3) == 27
    assert patients_needed((("train", 6), ("eval", 2), ("test", 2)), "test", 3) == 14
    # 12 at 7/1/2: 8.4 / 1.2 / 2.4, the spare one to train (equal remainders: the first).
    assert allocate(12, (("train", 7), ("eval", 1), ("test", 2))) == [9, 1, 2]
    assert patients_needed((("train", 7), ("eval", 1), ("test", 2)), "test", 3) == 13
