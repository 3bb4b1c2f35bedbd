"""What earlier runs leave for later ones: each span's statistics and the last run's schema.

Open-source KFP cannot run resolver nodes, so, like the served baseline, the previous span
comes from a stable location the runner names (under the pipeline root), not from a
metadata query. Layout:

    <history>/spans/<span>/statistics.pb   train split of that span (TFDV binary proto)
    <history>/spans/<span>/record.json     {"span", "passed_gate", "examples_uri", ...}
    <history>/schemas/<sha256>.pbtxt       every schema a report has seen
    <history>/last_run.json                {"schema_fingerprint", "span", "report_uri", ...}
"""

from __future__ import annotations

import datetime
import json
import os

import tensorflow as tf
import tensorflow_data_validation as tfdv

SPANS = "spans"
SCHEMAS = "schemas"
LAST_RUN = "last_run.json"
STATISTICS = "statistics.pb"
RECORD = "record.json"


def _read_json(path: str) -> dict | None:
    if not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path) as handle:
        return json.load(handle)


def _write_json(path: str, payload: dict) -> None:
    tf.io.gfile.makedirs(os.path.dirname(path))
    with tf.io.gfile.GFile(path, "w") as handle:
        json.dump(payload, handle, indent=2, sort_keys=True)


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat()


def previous_accepted_span(history_dir: str, span: int):
    """(record, statistics) of the latest span before `span` whose data passed the gate."""
    root = os.path.join(history_dir, SPANS)
    if not tf.io.gfile.isdir(root):
        return None
    earlier = sorted(
        (int(name.rstrip("/")) for name in tf.io.gfile.listdir(root)
         if name.rstrip("/").isdigit() and int(name.rstrip("/")) < span),
        reverse=True,
    )
    for candidate in earlier:
        record = _read_json(os.path.join(root, str(candidate), RECORD))
        if record and record["passed_gate"]:
            statistics = tfdv.load_stats_binary(os.path.join(root, str(candidate), STATISTICS))
            return record, statistics
    return None


def _schema_path(history_dir: str, fingerprint: str) -> str:
    return os.path.join(history_dir, SCHEMAS, fingerprint.split(":")[-1] + ".pbtxt")


def schema_text(history_dir: str, fingerprint: str) -> str | None:
    path = _schema_path(history_dir, fingerprint)
    if not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path) as handle:
        return handle.read()


def last_run(history_dir: str) -> dict | None:
    return _read_json(os.path.join(history_dir, LAST_RUN))


def record_run(
    history_dir: str,
    *,
    span: int,
    passed_gate: bool,
    examples_uri: str,
    train_statistics_file: str,
    schema: str,
    schema_fingerprint: str,
    report_uri: str,
) -> None:
    """Leaves this run's span statistics and schema for the next run's report."""
    span_dir = os.path.join(history_dir, SPANS, str(span))
    tf.io.gfile.makedirs(span_dir)
    tf.io.gfile.copy(train_statistics_file, os.path.join(span_dir, STATISTICS), overwrite=True)
    _write_json(os.path.join(span_dir, RECORD), {
        "span": span, "passed_gate": passed_gate, "examples_uri": examples_uri,
        "recorded_at": _now(),
    })
    schema_path = _schema_path(history_dir, schema_fingerprint)
    tf.io.gfile.makedirs(os.path.dirname(schema_path))
    with tf.io.gfile.GFile(schema_path, "w") as handle:
        handle.write(schema)
    _write_json(os.path.join(history_dir, LAST_RUN), {
        "span": span, "schema_fingerprint": schema_fingerprint, "report_uri": report_uri,
        "recorded_at": _now(),
    })
