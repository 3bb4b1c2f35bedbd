import numpy as np
import pandas as pd
import pytest
import tensorflow_data_validation as tfdv

from components.report import drift
from pipeline.config import DATA_DIR, WDBC


def _stats(frame: pd.DataFrame):
    return tfdv.generate_statistics_from_dataframe(frame).datasets[0]


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return pd.read_csv(DATA_DIR / "wdbc" / "span-1" / "wdbc.csv")


def test_the_curated_schema_measures_drift_and_skew_on_every_feature_but_the_id():
    schema = tfdv.load_schema_text(str(WDBC.schema_file))
    assert drift.has_comparators(schema) == {"drift": True, "skew": True}
    without = [f.name for f in schema.feature if not f.HasField("drift_comparator")]
    assert without == ["id"]


def test_a_shifted_feature_drifts_and_a_random_half_does_not(reference):
    schema = tfdv.load_schema_text(str(WDBC.schema_file))
    order = np.random.default_rng(0).permutation(len(reference))
    first, second = reference.iloc[order[:285]], reference.iloc[order[285:]].copy()
    rows = drift.drift(_stats(second), _stats(first), schema)
    assert {r["feature"] for r in rows} == {f.name for f in schema.feature} - {"id"}
    assert not [r for r in rows if r["flagged"]]

    second["area_mean"] *= 1.8  # a unit or calibration change at the source
    rows = drift.drift(_stats(second), _stats(first), schema)
    flagged = [r for r in rows if r["flagged"]]
    assert [r["feature"] for r in flagged] == ["area_mean"]
    assert flagged[0]["value"] > flagged[0]["threshold"] == 0.15
    assert rows[0] is flagged[0] and "distribution moved" in flagged[0]["meaning"]


def test_skew_compares_train_with_a_held_out_split(reference):
    schema = tfdv.load_schema_text(str(WDBC.schema_file))
    benign_only = reference[reference["diagnosis"] == 0]
    rows = drift.skew(_stats(reference), _stats(benign_only), schema)
    (label,) = [r for r in rows if r["feature"] == "diagnosis"]
    assert label["flagged"] and label["measure"] == "JENSEN_SHANNON_DIVERGENCE"
