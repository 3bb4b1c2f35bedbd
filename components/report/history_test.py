from tensorflow_metadata.proto.v0 import statistics_pb2

from components.report import history


def _record(root, tmp_path, span: int, passed: bool, schema: str = "feature { name: 'a' }"):
    stats = statistics_pb2.DatasetFeatureStatisticsList()
    stats.datasets.add(num_examples=span * 10)
    path = tmp_path / f"stats-{span}.pb"
    path.write_bytes(stats.SerializeToString())
    history.record_run(
        str(root), span=span, passed_gate=passed, examples_uri=f"/examples/{span}",
        train_statistics_file=str(path), schema=schema, schema_fingerprint=f"sha256:{span}",
        report_uri=f"/report/{span}",
    )


def test_previous_span_is_the_latest_earlier_one_that_passed_the_gate(tmp_path):
    root = tmp_path / "history"
    assert history.previous_accepted_span(str(root), 3) is None
    _record(root, tmp_path, 1, True)
    _record(root, tmp_path, 2, False)
    _record(root, tmp_path, 4, True)
    record, stats = history.previous_accepted_span(str(root), 3)
    assert record["span"] == 1 and stats.datasets[0].num_examples == 10
    assert history.previous_accepted_span(str(root), 1) is None
    assert history.previous_accepted_span(str(root), 5)[0]["span"] == 4


def test_last_run_keeps_its_schema(tmp_path):
    root = tmp_path / "history"
    assert history.last_run(str(root)) is None
    _record(root, tmp_path, 1, True, schema="feature { name: 'x' }")
    _record(root, tmp_path, 2, False, schema="feature { name: 'y' }")
    last = history.last_run(str(root))
    assert last["span"] == 2 and last["report_uri"] == "/report/2"
    assert history.schema_text(str(root), last["schema_fingerprint"]) == "feature { name: 'y' }"
    assert history.schema_text(str(root), "sha256:1") == "feature { name: 'x' }"
