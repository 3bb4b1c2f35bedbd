"""Reading a run back from ML Metadata: what each node did and what it produced."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2

_STATES = metadata_store_pb2.Execution.State
PIPELINE_RUN = "pipeline_run"
NODE = "node"


def sqlite_config(path: Path) -> metadata_store_pb2.ConnectionConfig:
    """TFX's sqlite_metadata_connection_config, made here: importing TFX for it would cost
    reading a run back 10 s of start-up (metadata_test checks the two agree)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    connection = metadata_store_pb2.ConnectionConfig()
    connection.sqlite.filename_uri = str(path)
    connection.sqlite.connection_mode = (
        metadata_store_pb2.SqliteMetadataSourceConfig.READWRITE_OPENCREATE
    )
    return connection


def open_store(path: Path) -> metadata_store.MetadataStore:
    if not path.exists():
        raise FileNotFoundError(f"no metadata store at {path}")
    return metadata_store.MetadataStore(sqlite_config(path))


@dataclass
class NodeRun:
    node_id: str
    state: str  # COMPLETE (executed), CACHED, FAILED, RUNNING...
    execution_id: int
    outputs: dict[str, list[metadata_store_pb2.Artifact]] = field(default_factory=dict)
    inputs: dict[str, list[metadata_store_pb2.Artifact]] = field(default_factory=dict)


def run_ids(store: metadata_store.MetadataStore, pipeline_name: str) -> list[str]:
    """Run ids of a pipeline, oldest first."""
    runs = [
        c for c in store.get_contexts_by_type(PIPELINE_RUN)
        if _belongs(store, c, pipeline_name)
    ]
    return [c.name for c in sorted(runs, key=lambda c: (c.create_time_since_epoch, c.id))]


def _belongs(store, run_context, pipeline_name: str) -> bool:
    parents = store.get_parent_contexts_by_context(run_context.id)
    return not parents or any(p.name == pipeline_name for p in parents)


def node_runs(store: metadata_store.MetadataStore, run_id: str) -> dict[str, NodeRun]:
    """The executions of one pipeline run, keyed by node id, with their artifacts."""
    context = store.get_context_by_type_and_name(PIPELINE_RUN, run_id)
    if context is None:
        raise KeyError(f"no run {run_id!r} in the metadata store")
    result: dict[str, NodeRun] = {}
    for execution in sorted(store.get_executions_by_context(context.id), key=lambda e: e.id):
        run = node_run(store, execution)
        result[run.node_id] = run
    return result


def _context_names(store, execution_id: int, context_type: str) -> list[str]:
    return [c.name for c in store.get_contexts_by_execution(execution_id)
            if store.get_context_types_by_id([c.type_id])[0].name == context_type]


def run_of(store: metadata_store.MetadataStore, execution_id: int) -> str | None:
    """The pipeline run an execution belongs to."""
    return next(iter(_context_names(store, execution_id, PIPELINE_RUN)), None)


def node_run(store: metadata_store.MetadataStore, execution) -> NodeRun:
    """One execution with the artifacts it read and wrote, keyed by input/output name."""
    node_id = next(
        (name.split(".", 1)[-1] for name in _context_names(store, execution.id, NODE)),
        str(execution.id),
    )
    run = NodeRun(node_id, _STATES.Name(execution.last_known_state), execution.id)
    events = store.get_events_by_execution_ids([execution.id])
    by_id = {a.id: a for a in store.get_artifacts_by_id([e.artifact_id for e in events])}
    for event in events:
        key = event.path.steps[0].key if event.path.steps else ""
        target = run.outputs if event.type == metadata_store_pb2.Event.OUTPUT else run.inputs
        if event.type in (metadata_store_pb2.Event.OUTPUT, metadata_store_pb2.Event.INPUT):
            target.setdefault(key, []).append(by_id[event.artifact_id])
    return run


def custom_int(artifact: metadata_store_pb2.Artifact, name: str, default: int = 0) -> int:
    value = artifact.custom_properties.get(name)
    if value is None:
        return default
    if value.HasField("int_value"):
        return value.int_value
    return int(value.string_value or default)


def custom_str(artifact: metadata_store_pb2.Artifact, name: str) -> str:
    value = artifact.custom_properties.get(name)
    if value is None:
        return ""
    return value.string_value or str(value.int_value)
