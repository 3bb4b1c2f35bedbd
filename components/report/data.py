"""The data section: what went in, split by split, as SplitCheck and TFDV recorded it."""

from __future__ import annotations

import json
import os

import tensorflow as tf
import tensorflow_data_validation as tfdv
from tensorflow_metadata.proto.v0 import statistics_pb2

from components import artifacts
from components.idc.example_gen import COUNTS_FILE

STATISTICS_FILE = "FeatureStats.pb"
_HISTOGRAM = statistics_pb2.Histogram.STANDARD
_TOP_VALUES = 5


def statistics_file(statistics_artifact, split: str) -> str:
    return os.path.join(statistics_artifact.uri, f"Split-{split}", STATISTICS_FILE)


def load_statistics(statistics_artifact) -> dict[str, statistics_pb2.DatasetFeatureStatistics]:
    """Split name -> TFDV statistics of that split."""
    return {
        split: tfdv.load_stats_binary(statistics_file(statistics_artifact, split)).datasets[0]
        for split in artifacts.split_names(statistics_artifact)
    }


def _numeric(stats: statistics_pb2.NumericStatistics) -> dict:
    histogram = next((h for h in stats.histograms if h.type == _HISTOGRAM), None)
    return {
        "count": stats.common_stats.num_non_missing,
        "missing": stats.common_stats.num_missing,
        "mean": stats.mean,
        "std_dev": stats.std_dev,
        "min": stats.min,
        "median": stats.median,
        "max": stats.max,
        "zeros": stats.num_zeros,
        "histogram": [
            [b.low_value, b.high_value, b.sample_count] for b in histogram.buckets
        ] if histogram else [],
    }


def _strings(stats: statistics_pb2.StringStatistics) -> dict:
    return {
        "count": stats.common_stats.num_non_missing,
        "missing": stats.common_stats.num_missing,
        "unique": stats.unique,
        "average_length": stats.avg_length,
        "top_values": [[v.value, v.frequency] for v in stats.top_values[:_TOP_VALUES]],
    }


def _bytes(stats: statistics_pb2.BytesStatistics) -> dict:
    return {
        "count": stats.common_stats.num_non_missing,
        "missing": stats.common_stats.num_missing,
        "unique": stats.unique,
        "average_bytes": stats.avg_num_bytes,
        "min_bytes": stats.min_num_bytes,
        "max_bytes": stats.max_num_bytes,
    }


def feature_summary(feature: statistics_pb2.FeatureNameStatistics) -> dict:
    kind = feature.WhichOneof("stats")
    if kind == "num_stats":
        return _numeric(feature.num_stats)
    if kind == "string_stats":
        return _strings(feature.string_stats)
    if kind == "bytes_stats":
        return _bytes(feature.bytes_stats)
    return {}


def features(statistics: dict[str, statistics_pb2.DatasetFeatureStatistics]) -> list[dict]:
    """Per feature, its TFDV summary in every split (train first)."""
    rows: dict[str, dict] = {}
    for split, dataset in statistics.items():
        for feature in dataset.features:
            name = ".".join(feature.path.step) or feature.name
            row = rows.setdefault(name, {
                "name": name,
                "type": statistics_pb2.FeatureNameStatistics.Type.Name(feature.type),
                "splits": {},
            })
            row["splits"][split] = feature_summary(feature)
    return [rows[name] for name in sorted(rows)]


def _label_counts(label: statistics_pb2.FeatureNameStatistics) -> tuple[int, int]:
    """(labelled examples, label 1) of a split. The schema marks the label categorical, so
    TFDV counts its values; statistics computed without the schema hold its mean instead."""
    if label.WhichOneof("stats") == "string_stats":
        stats = label.string_stats
        ones = sum(v.frequency for v in stats.top_values if v.value == "1")
        return stats.common_stats.num_non_missing, round(ones)
    count = label.num_stats.common_stats.num_non_missing
    return count, round(label.num_stats.mean * count)


def class_balance(
    statistics: dict[str, statistics_pb2.DatasetFeatureStatistics], label_key: str
) -> dict[str, dict]:
    """Examples and positives (label 1) per split, as TFDV counted them."""
    balance = {}
    for split, dataset in statistics.items():
        label = next((f for f in dataset.features if list(f.path.step) == [label_key]), None)
        if label is None:  # an empty split has no features at all
            balance[split] = {"examples": dataset.num_examples, "positive_fraction": None,
                              "positives": 0}
            continue
        count, positives = _label_counts(label)
        balance[split] = {
            "examples": dataset.num_examples,
            "positive_fraction": positives / count if count else None,
            "positives": positives,
        }
    return balance


def splits(proof: dict) -> dict:
    """Examples and partitions per split and the overlaps SplitCheck found (ids omitted:
    the proof artifact keeps them)."""
    return {
        "partition_key": proof["partition_key"],
        "splits": {
            name: {"examples": s["examples"], "partitions": s["partitions"],
                   "positive_partitions": s["positive_partitions"]}
            for name, s in proof["splits"].items()
        },
        "overlaps": {pair: len(shared) for pair, shared in proof["overlaps"].items()},
        "overlapping_values": {pair: shared[:20] for pair, shared in proof["overlaps"].items()
                               if shared},
        "disjoint": proof["disjoint"],
    }


def ingestion_counts(examples) -> dict | None:
    """The counts an ExampleGen that records them (IDC) left beside its examples."""
    path = os.path.join(examples.uri, COUNTS_FILE)
    if not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path) as handle:
        counts = json.load(handle)
    # Per-patient patch counts are thousands of rows: the artifact keeps them.
    return {k: v for k, v in counts.items() if not isinstance(v, dict)}


def span_of(examples) -> int:
    # ExampleGen records the span as a custom property; the typed property stays 0.
    if examples.has_custom_property("span"):
        return int(examples.get_int_custom_property("span"))
    return int(examples.span)
