"""Traces a pushed model version back through the metadata store.

The push record inside the served directory names the model artifact and the blessing it
was pushed on; from there the store's events lead to the Trainer, Transform, ExampleGen
(the data span), the schema, the evaluation and the review report.
"""

from __future__ import annotations

from ml_metadata.proto import metadata_store_pb2

from components.model_files import pushed_content_hash
from pipeline import metadata
from serving import layout

_OUTPUT = metadata_store_pb2.Event.OUTPUT
_INPUT = metadata_store_pb2.Event.INPUT


class LineageError(LookupError):
    """The served directory or the metadata store does not hold what a trace needs."""


def _executions(store, artifact_id: int, event_type) -> list:
    ids = sorted({e.execution_id for e in store.get_events_by_artifact_ids([artifact_id])
                  if e.type == event_type})
    return store.get_executions_by_id(ids) if ids else []


def _producer(store, artifact) -> metadata.NodeRun:
    found = _executions(store, artifact.id, _OUTPUT)
    if not found:
        raise LineageError(f"no execution produced artifact {artifact.id} ({artifact.uri})")
    return metadata.node_run(store, found[0])


def _consumers(store, artifact) -> list[metadata.NodeRun]:
    return [metadata.node_run(store, e) for e in _executions(store, artifact.id, _INPUT)]


def _one(run: metadata.NodeRun, key: str, inputs: bool = True):
    found = (run.inputs if inputs else run.outputs).get(key)
    if not found:
        raise LineageError(f"{run.node_id} (execution {run.execution_id}) has no {key!r}")
    return found[0]


def _execution_property(store, execution_id: int, name: str) -> str:
    execution = store.get_executions_by_id([execution_id])[0]
    value = execution.custom_properties.get(name)
    if value is None:
        return ""
    return value.string_value or str(value.int_value)


def _artifact(artifact, run: metadata.NodeRun | None = None, store=None) -> dict:
    entry = {"artifact_id": artifact.id, "uri": artifact.uri}
    if run is not None:
        entry.update(node=run.node_id, execution_id=run.execution_id,
                     run=metadata.run_of(store, run.execution_id))
    return entry


def _served_version(evaluator: metadata.NodeRun) -> int:
    """The version the candidate was compared with; 0 when nothing was served."""
    baseline = evaluator.inputs.get("baseline_model")
    return metadata.custom_int(baseline[0], "served_version") if baseline else 0


# What the Pusher writes into every push record and tracing reads back.
_RECORD_KEYS = ("model_artifact_id", "blessing_uri", "content_hash")


def trace(store, version_dir: str) -> dict:
    """Everything a served version came from, as recorded in the metadata store."""
    try:
        record = layout.push_record(version_dir)
    except ValueError as err:
        raise LineageError(f"{version_dir}: its push record is not JSON ({err})") from None
    if record is None:
        raise LineageError(f"{version_dir} holds no push record: not pushed by bcpipe")
    missing = [k for k in _RECORD_KEYS if not isinstance(record, dict) or k not in record]
    if missing:
        raise LineageError(f"{version_dir}: its push record lacks {', '.join(missing)}")
    (model,) = store.get_artifacts_by_id([record["model_artifact_id"]]) or [None]
    if model is None:
        raise LineageError(f"model artifact {record['model_artifact_id']} is not in this store")
    trainer = _producer(store, model)
    transform_graph = _one(trainer, "transform_graph")
    transform = _producer(store, transform_graph)
    examples = _one(transform, "examples")
    example_gen = _producer(store, examples)
    schema = _one(trainer, "schema")
    evaluator = next((r for r in _consumers(store, model)
                      if r.outputs.get("blessing")
                      and r.outputs["blessing"][0].uri == record["blessing_uri"]), None)
    if evaluator is None:
        raise LineageError(f"no evaluation of model {model.id} wrote {record['blessing_uri']}")
    blessing = _one(evaluator, "blessing", inputs=False)
    later = _consumers(store, blessing)
    pushers = [r for r in later if r.outputs.get("pushed_model")
               and metadata.custom_int(r.outputs["pushed_model"][0], "newly_pushed")]
    # A cached report execution points at the report artifact it reused: list each once.
    reports = list({r.outputs["report"][0].id: r for r in later if r.outputs.get("report")}
                   .values())
    served_hash = pushed_content_hash(version_dir)
    return {
        "version_dir": version_dir,
        "content_hash": record["content_hash"],
        "content_intact": served_hash == record["content_hash"],
        "pushed_at": record["pushed_at"],
        "pushed_by_run": metadata.run_of(store, pushers[0].execution_id) if pushers else None,
        "model": _artifact(model, trainer, store),
        "data": {
            **_artifact(examples, example_gen, store),
            "span": metadata.custom_int(examples, "span"),
            "input_base": _execution_property(store, example_gen.execution_id, "input_base"),
            "input_fingerprint": metadata.custom_str(examples, "input_fingerprint"),
        },
        "schema": {**_artifact(schema), "fingerprint": metadata.custom_str(schema, "fingerprint")},
        "transform": _artifact(transform_graph, transform, store),
        "evaluation": {
            **_artifact(_one(evaluator, "evaluation", inputs=False), evaluator, store),
            "blessing_uri": blessing.uri,
            "blessed": bool(metadata.custom_int(blessing, "blessed")),
            "baseline_served_version": _served_version(evaluator),
        },
        "reports": [
            {**_artifact(r.outputs["report"][0], r, store),
             "html": metadata.custom_str(r.outputs["report"][0], "html"),
             "status": metadata.custom_str(r.outputs["report"][0], "status")}
            for r in reports
        ],
    }


def _compared_with(version: int) -> str:
    return f"served version {version}" if version else "nothing (none served yet)"


def describe(model_name: str, version: int, found: dict) -> str:
    data, evaluation = found["data"], found["evaluation"]
    lines = [
        f"{model_name} version {version}: {found['version_dir']}",
        f"  content     {found['content_hash']} "
        f"({'matches the push record' if found['content_intact'] else 'CHANGED SINCE PUSH'})",
        f"  pushed      {found['pushed_at']} by run {found['pushed_by_run']}",
        f"  model       artifact {found['model']['artifact_id']} {found['model']['uri']} "
        f"(trained in run {found['model']['run']})",
        f"  data        span {data['span']}: examples artifact {data['artifact_id']} "
        f"{data['uri']} from {data['input_base']} ({data['input_fingerprint']})",
        f"  schema      artifact {found['schema']['artifact_id']} {found['schema']['uri']} "
        f"{found['schema']['fingerprint']}",
        f"  transform   artifact {found['transform']['artifact_id']} {found['transform']['uri']}",
        f"  evaluation  artifact {evaluation['artifact_id']} {evaluation['uri']} "
        f"({'blessed' if evaluation['blessed'] else 'not blessed'}; compared with "
        f"{_compared_with(evaluation['baseline_served_version'])}; run {evaluation['run']})",
    ]
    lines += [f"  report      {r['html']} ({r['status']}; run {r['run']})"
              for r in found["reports"]] or ["  report      none recorded"]
    return "\n".join(lines)
