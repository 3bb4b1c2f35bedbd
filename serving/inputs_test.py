"""Client inputs from the canonical WDBC CSV and from PNG files."""

import csv

import numpy as np
import pytest
import tensorflow as tf

from pipeline.config import DATA_DIR, WDBC_FEATURES
from serving.inputs import EXAMPLES, RAW, png_files, wdbc_csv


def _write_csv(path, header, rows):
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def test_the_bundled_csv_reads_as_float32_columns():
    batch = wdbc_csv(DATA_DIR / "wdbc" / "span-1" / "wdbc.csv")
    assert len(batch.keys) == 569
    assert set(batch.raw) == set(WDBC_FEATURES)
    assert {column.dtype for column in batch.raw.values()} == {np.dtype(np.float32)}
    assert batch.raw["radius_mean"][0] == np.float32(17.99)


def test_a_csv_without_diagnosis_column_and_its_examples(tmp_path):
    path = tmp_path / "rows.csv"
    values = [[float(i + j) / 7 for j in range(30)] for i in range(2)]
    _write_csv(path, ["id", *WDBC_FEATURES], [[f"p{i}", *row] for i, row in enumerate(values)])
    batch = wdbc_csv(path)
    assert (batch.key_name, batch.keys) == ("id", ["p0", "p1"])
    assert batch.request_inputs(RAW) is batch.raw
    examples = batch.request_inputs(EXAMPLES)["examples"]
    parsed = tf.io.parse_example(
        examples.tolist(), {n: tf.io.FixedLenFeature([], tf.float32) for n in WDBC_FEATURES}
    )
    for name in WDBC_FEATURES:
        np.testing.assert_array_equal(parsed[name].numpy(), batch.raw[name])


def test_a_csv_missing_a_feature_is_refused_with_its_name(tmp_path):
    path = tmp_path / "rows.csv"
    _write_csv(path, ["id", *WDBC_FEATURES[:-1]], [["1", *([1.0] * 29)]])
    with pytest.raises(ValueError, match="fractal_dimension_worst"):
        wdbc_csv(path)


def test_pngs_go_as_stored(tmp_path):
    path = tmp_path / "patch.png"
    path.write_bytes(tf.io.encode_png(np.zeros((50, 50, 3), np.uint8)).numpy())
    batch = png_files([path])
    assert batch.keys == [str(path)]
    assert batch.raw["image"][0] == path.read_bytes()
    example = tf.train.Example.FromString(batch.examples()[0])
    assert example.features.feature["image"].bytes_list.value == [path.read_bytes()]
