from components.report import schema_diff
from pipeline.config import WDBC


def test_diff_names_what_changed_between_two_schemas():
    before = WDBC.schema_file.read_text()
    after = before.replace("float_domain { min: 0 max: 43 }", "float_domain { min: 0 max: 50 }")
    after += 'feature {\n  name: "age"\n  type: INT\n}\n'
    found = schema_diff.diff(before, after)
    assert found["changed"] == ["radius_mean"]
    assert found["added"] == ["age"] and found["removed"] == []
    assert "-  float_domain { min: 0 max: 43 }" in found["lines"]
    assert schema_diff.diff(before, before)["lines"] == []


def test_summary_lists_domains_and_environments():
    summary = schema_diff.summary(schema_diff.parse(WDBC.schema_file.read_text()))
    rows = {f["name"]: f for f in summary["features"]}
    assert rows["diagnosis"]["environments"] == ["TRAINING"]
    assert rows["radius_mean"]["environments"] == ["TRAINING", "SERVING"]
    assert rows["radius_mean"]["domain"] == "min: 0.0 max: 43.0"
