"""Class balance from TFDV's label statistics, categorical (the schema's) or numeric."""

import pytest
from tensorflow_metadata.proto.v0 import statistics_pb2

from components.report.data import class_balance


def _dataset(label: statistics_pb2.FeatureNameStatistics, examples: int):
    dataset = statistics_pb2.DatasetFeatureStatistics(num_examples=examples)
    dataset.features.append(label)
    return dataset


def test_positives_of_a_categorical_label_are_the_count_of_value_1():
    label = statistics_pb2.FeatureNameStatistics()
    label.path.step.append("label")
    label.string_stats.common_stats.num_non_missing = 40
    label.string_stats.top_values.add(value="0", frequency=30)
    label.string_stats.top_values.add(value="1", frequency=10)
    balance = class_balance({"train": _dataset(label, 40)}, "label")
    assert balance["train"] == {"examples": 40, "positive_fraction": 0.25, "positives": 10}


def test_positives_of_a_numeric_label_come_from_its_mean():
    label = statistics_pb2.FeatureNameStatistics()
    label.path.step.append("label")
    label.num_stats.common_stats.num_non_missing = 8
    label.num_stats.mean = 0.375
    balance = class_balance({"eval": _dataset(label, 8)}, "label")
    assert balance["eval"]["positives"] == 3
    assert balance["eval"]["positive_fraction"] == pytest.approx(0.375)


def test_a_split_without_a_single_positive_has_none():
    label = statistics_pb2.FeatureNameStatistics()
    label.path.step.append("label")
    label.string_stats.common_stats.num_non_missing = 5
    label.string_stats.top_values.add(value="0", frequency=5)
    assert class_balance({"test": _dataset(label, 5)}, "label")["test"]["positives"] == 0
