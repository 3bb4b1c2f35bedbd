"""Drift against the previous span and skew between splits, by TFDV's comparators.

The thresholds are the `drift_comparator` and `skew_comparator` entries of the curated
schema. Drift compares this span's train split with the previous accepted span's; skew
compares the train split with each held-out split (they should look alike: a split made
by hashing ids is a random sample). Both are reported; neither stops the run.
"""

from __future__ import annotations

import tensorflow_data_validation as tfdv
from tensorflow_metadata.proto.v0 import anomalies_pb2, schema_pb2, statistics_pb2

from components.report.anomalies import MEANINGS

_COMPARATOR = "COMPARATOR_"
_MEASURE = anomalies_pb2.DriftSkewInfo.Measurement.Type


def _as_list(dataset: statistics_pb2.DatasetFeatureStatistics):
    return statistics_pb2.DatasetFeatureStatisticsList(datasets=[dataset])


def _flagged(anomalies: anomalies_pb2.Anomalies) -> dict[str, list[str]]:
    flagged = {}
    for feature, info in anomalies.anomaly_info.items():
        types = [anomalies_pb2.AnomalyInfo.Type.Name(r.type) for r in info.reason]
        comparator = [t for t in types if t.startswith(_COMPARATOR)]
        if comparator:
            flagged[feature] = comparator
    return flagged


def _rows(anomalies: anomalies_pb2.Anomalies, field: str) -> list[dict]:
    flagged = _flagged(anomalies)
    rows = []
    for info in anomalies.drift_skew_info:
        feature = ".".join(info.path.step)
        for measurement in getattr(info, field):
            rows.append({
                "feature": feature,
                "measure": _MEASURE.Name(measurement.type),
                "value": measurement.value,
                "threshold": measurement.threshold,
                "flagged": feature in flagged,
                "meaning": "; ".join(MEANINGS.get(t, t) for t in flagged.get(feature, [])),
            })
    return sorted(rows, key=lambda r: (not r["flagged"], -r["value"], r["feature"]))


def drift(
    current: statistics_pb2.DatasetFeatureStatistics,
    previous: statistics_pb2.DatasetFeatureStatistics,
    schema: schema_pb2.Schema,
) -> list[dict]:
    anomalies = tfdv.validate_statistics(
        _as_list(current), schema, previous_statistics=_as_list(previous)
    )
    return _rows(anomalies, "drift_measurements")


def skew(
    train: statistics_pb2.DatasetFeatureStatistics,
    held_out: statistics_pb2.DatasetFeatureStatistics,
    schema: schema_pb2.Schema,
) -> list[dict]:
    anomalies = tfdv.validate_statistics(
        _as_list(train), schema, serving_statistics=_as_list(held_out)
    )
    return _rows(anomalies, "skew_measurements")


def has_comparators(schema: schema_pb2.Schema) -> dict[str, bool]:
    return {
        "drift": any(f.HasField("drift_comparator") for f in schema.feature),
        "skew": any(f.HasField("skew_comparator") for f in schema.feature),
    }
