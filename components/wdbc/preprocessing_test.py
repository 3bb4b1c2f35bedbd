"""preprocessing_fn run through tft_beam as Transform runs it: fitted on train, applied after."""

import csv

import numpy as np
import tensorflow as tf
import tensorflow_transform.beam as tft_beam
from tensorflow_data_validation import load_schema_text
from tensorflow_transform.tf_metadata import dataset_metadata, schema_utils

from bench.quality import z_scores
from components.wdbc.preprocessing import log_scaled, preprocessing_fn
from pipeline.config import DATA_DIR, WDBC_FEATURES, WDBC_LABEL

SCHEMA = DATA_DIR.parent / "schema" / "wdbc" / "schema.pbtxt"


def _rows(count: int, start: int = 0) -> list[dict]:
    with open(DATA_DIR / "wdbc" / "span-1" / "wdbc.csv") as handle:
        rows = list(csv.DictReader(handle))[start : start + count]
    return [
        {
            **{name: [float(r[name])] for name in WDBC_FEATURES},
            WDBC_LABEL: [int(r[WDBC_LABEL])],
            "id": [int(r["id"])],
        }
        for r in rows
    ]


def test_log_z_scores_use_train_statistics_only(tmp_path):
    train, other = _rows(200), _rows(50, start=300)
    spec = schema_utils.schema_as_feature_spec(load_schema_text(str(SCHEMA))).feature_spec
    metadata = dataset_metadata.DatasetMetadata.from_feature_spec(spec)
    with tft_beam.Context(temp_dir=str(tmp_path)):
        (train_out, _), transform_fn = (train, metadata) | tft_beam.AnalyzeAndTransformDataset(
            preprocessing_fn
        )
        other_out, _ = ((other, metadata), transform_fn) | tft_beam.TransformDataset()

    for name in WDBC_FEATURES:
        values = np.array([row[name] for row in train_out], dtype=np.float64).reshape(-1)
        assert abs(values.mean()) < 1e-4, name
        assert abs(values.std() - 1.0) < 1e-3, name
    # The held-out rows are scaled with the train mean and deviation of log(1 + x), not
    # their own: what bench.quality's numpy copy of this preprocessing computes.
    def matrix(rows):
        return np.array([[r[name][0] for name in WDBC_FEATURES] for r in rows])

    _, expected = z_scores(matrix(train), matrix(other))
    got = np.array([[row[name] for name in WDBC_FEATURES] for row in other_out],
                   dtype=np.float64).reshape(len(other), -1)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
    assert [row[WDBC_LABEL] for row in other_out] == [r[WDBC_LABEL] for r in other]


def test_log_scaled_counts_a_negative_value_as_zero():
    got = log_scaled(tf.constant([-3.0, 0.0, np.e - 1.0, 99.0])).numpy()
    np.testing.assert_allclose(got, [0.0, 0.0, 1.0, np.log(100.0)], rtol=1e-6)
