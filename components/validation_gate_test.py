"""The gate reads ExampleValidator's anomalies as written and names every one."""

import json

import pandas as pd
import pytest
import tensorflow_data_validation as tfdv
from tfx import v1 as tfx

from components.validation_gate import ANOMALIES_FILE, describe, read_anomalies
from pipeline.config import DATA_DIR, SCHEMA_DIR


def _anomalies_artifact(tmp_path, frames: dict[str, pd.DataFrame]):
    schema = tfdv.load_schema_text(str(SCHEMA_DIR / "wdbc" / "schema.pbtxt"))
    for split, frame in frames.items():
        stats = tfdv.generate_statistics_from_dataframe(frame)
        anomalies = tfdv.validate_statistics(stats, schema)
        (tmp_path / f"Split-{split}").mkdir()
        (tmp_path / f"Split-{split}" / ANOMALIES_FILE).write_bytes(anomalies.SerializeToString())
    artifact = tfx.types.standard_artifacts.ExampleAnomalies()
    artifact.uri = str(tmp_path)
    artifact.split_names = json.dumps(sorted(frames))
    return artifact


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return pd.read_csv(DATA_DIR / "wdbc" / "span-1" / "wdbc.csv")


def test_clean_data_has_no_anomalies(tmp_path, reference):
    found = read_anomalies(_anomalies_artifact(tmp_path, {"train": reference}))
    assert found == {"train": []}


def test_each_anomaly_is_named_with_its_split(tmp_path, reference):
    broken = reference.copy()
    broken.loc[3, "area_mean"] = -512.0
    broken.loc[5, "diagnosis"] = 7
    found = read_anomalies(_anomalies_artifact(tmp_path, {"eval": reference, "train": broken}))
    assert found["eval"] == []
    by_feature = {a["feature"]: a for a in found["train"]}
    assert set(by_feature) == {"area_mean", "diagnosis"}
    assert by_feature["area_mean"]["severity"] == "ERROR"
    assert by_feature["area_mean"]["types"] == ["FLOAT_TYPE_SMALL_FLOAT"]
    assert "-512<0" in by_feature["area_mean"]["description"]
    too_few = {"split": "test", "message": "the test split holds no patient: ..."}
    text = describe({"anomalies": found, "leaks": {"eval&train": ["842302"]},
                     "cohort": [too_few, {"split": None, "message": "one class only"}],
                     "partition_key": "id"})
    assert "[train] area_mean:" in text and "[train] diagnosis:" in text
    assert "[eval&train] 1 id value(s) in both splits: 842302" in text
    assert text.endswith("  [test] the test split holds no patient: ...\n  [data] one class only")
