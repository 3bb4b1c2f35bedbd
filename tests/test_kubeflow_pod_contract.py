"""What runs in a Kubeflow pod, called the way open-source KFP calls it.

The steps' container command and arguments come from the compiled pipeline spec; the
executor input is built the way the open-source KFP v2 driver builds it (backend/src/v2/driver:
parameters resolved from the task spec, outputs provisioned from the component's output
definitions plus `executor-logs`, upstream artifacts read back from ML Metadata with their
properties as `metadata` and their type lost: `instanceSchema: ""`, a `system.*` title, or
none). The upstream artifacts are real: one local run of the WDBC pipeline, shared by the
module. Each step runs as a subprocess, as the launcher runs it.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import tensorflow as tf
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2 as pb
from tensorflow_metadata.proto.v0 import statistics_pb2

from components import artifacts
from pipeline import config
from pipeline.kubeflow_runner import compile_pipeline, read_package
from pipeline.local_runner import run_pipeline
from pipeline.run_paths import RunPaths
from serving.signatures import EXAMPLES_INPUT, PROBABILITY, SERVING_DEFAULT

pytestmark = pytest.mark.e2e

TRAIN_STEPS = 20
EMPTY_SCHEMA = {"instanceSchema": ""}  # KFP 2.0-2.4 driver: upstream schema unknown
SYSTEM_TITLE = {"schemaTitle": "system.Artifact"}
NO_TYPE = None
EXECUTOR_LOGS = "executor-logs"


@pytest.fixture(scope="module")
def local_nodes(tmp_path_factory):
    root = tmp_path_factory.mktemp("local")
    paths = RunPaths(work_dir=root, pipeline_name="bcpipe-wdbc", serving_base=root / "serving")
    outcome = run_pipeline(
        config.WDBC, data_root=config.DATA_DIR / "wdbc", paths=paths,
        train_steps=TRAIN_STEPS, stream=io.StringIO(),
    )
    assert outcome.error is None, outcome.log_file.read_text()[-3000:]
    return outcome.nodes


@pytest.fixture(scope="module")
def spec(tmp_path_factory) -> pb.PipelineSpec:
    out = tmp_path_factory.mktemp("compiled")
    package = compile_pipeline(
        config.WDBC, image="registry.example/bcpipe:test", pipeline_root="gs://unused/root",
        out_dir=out, train_steps=TRAIN_STEPS,
    )
    return read_package(package)[0]


def kfp_value(value) -> object:
    """An MLMD value as the KFP driver puts it into `metadata` (ints become numbers)."""
    kind = value.WhichOneof("value")
    if kind == "int_value":
        return float(value.int_value)
    if kind == "struct_value":
        return json_format.MessageToDict(value.struct_value)
    return getattr(value, kind)


def as_kfp_input(artifact, key: str, artifact_type: dict | None) -> dict:
    """An upstream artifact the way the KFP driver hands it to the next step."""
    metadata = {k: kfp_value(v) for k, v in artifact.properties.items()}
    metadata |= {k: kfp_value(v) for k, v in artifact.custom_properties.items()}
    # The launcher records these on every output it publishes.
    metadata |= {"display_name": key, "store_session_info": json.dumps({"Provider": "gs"})}
    result = {"name": str(artifact.id), "uri": artifact.uri, "metadata": metadata}
    if artifact_type is not None:
        result["type"] = artifact_type
    return result


def driver_input(spec, task: str, inputs: dict[str, dict], root: Path, **run_parameters) -> dict:
    """The executor input the KFP driver would build for `task` in a run started with
    `run_parameters` (the pipeline's defaults otherwise)."""
    task_spec = spec.root.dag.tasks[task]
    component = spec.components[task_spec.component_ref.name]
    values = {}
    for name, parameter in task_spec.inputs.parameters.items():
        if parameter.HasField("runtime_value"):
            values[name] = json_format.MessageToDict(parameter.runtime_value.constant)
        else:
            run_parameter = parameter.component_input_parameter
            default = spec.root.input_definitions.parameters[run_parameter].default_value
            values[name] = run_parameters.get(run_parameter, json_format.MessageToDict(default))
    assert set(inputs) == set(task_spec.inputs.artifacts)
    outputs = {
        name: [{
            "uri": str(root / task / "run-uuid" / name),
            "type": json_format.MessageToDict(definition.artifact_type),
        }]
        for name, definition in component.output_definitions.artifacts.items()
    }
    outputs[EXECUTOR_LOGS] = [{"uri": str(root / task / EXECUTOR_LOGS), "type": SYSTEM_TITLE}]
    return {
        "inputs": {
            "artifacts": {k: {"artifacts": [a]} for k, a in inputs.items()},
            "parameterValues": values,
        },
        "outputs": {
            "artifacts": {k: {"artifacts": a} for k, a in outputs.items()},
            "outputFile": str(root / "kfp_outputs" / "output_metadata.json"),
        },
    }


def run_in_pod(spec, task: str, executor_input: dict, cwd: Path) -> pb.ExecutorOutput:
    """Runs the step's container command as the launcher does: `{{$}}` is the input."""
    executor = spec.deployment_spec["executors"][f"{task}_executor"]["container"]
    command = [sys.executable if c == "python" else c for c in executor["command"]]
    args = [json.dumps(executor_input) if a == "{{$}}" else a for a in executor["args"]]
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = subprocess.run(
        [*command, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=900
    )
    assert result.returncode == 0, result.stderr[-4000:]
    output_file = Path(executor_input["outputs"]["outputFile"])
    return json_format.Parse(output_file.read_text(), pb.ExecutorOutput())


def single(output: pb.ExecutorOutput, key: str) -> pb.RuntimeArtifact:
    assert len(output.artifacts[key].artifacts) == 1
    return output.artifacts[key].artifacts[0]


def count_examples(examples_uri: str, split: str) -> int:
    files = tf.io.gfile.glob(os.path.join(examples_uri, f"Split-{split}", "*"))
    return sum(1 for _ in tf.data.TFRecordDataset(files, compression_type="GZIP"))


def test_example_gen_resolves_the_latest_span_in_the_pod(spec, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(config.DATA_DIR / "wdbc", data)
    (data / "span-1").rename(data / "span-7")
    shutil.copytree(data / "span-7", data / "span-3")
    task = "CsvExampleGen"
    executor_input = driver_input(spec, task, {}, tmp_path / "pipeline-root", data_root=str(data))
    output = run_in_pod(spec, task, executor_input, cwd=tmp_path)

    examples = single(output, "examples")
    assert set(output.artifacts) == {"examples"}
    assert examples.uri == executor_input["outputs"]["artifacts"]["examples"]["artifacts"][0]["uri"]
    # The driver's span is a custom property; TFX prefixes it as `span` is also a property.
    assert examples.metadata["custom:span"] == 7
    assert json.loads(examples.metadata["split_names"]) == ["train", "eval", "test"]
    rows = sum(count_examples(examples.uri, s) for s in ("train", "eval", "test"))
    with open(next((data / "span-7").iterdir())) as handle:
        assert rows == sum(1 for _ in handle) - 1  # header


def test_statistics_gen_takes_examples_whose_type_kfp_lost(spec, local_nodes, tmp_path):
    examples = local_nodes["CsvExampleGen"].outputs["examples"][0]
    task = "StatisticsGen"
    schema = local_nodes["SchemaImporter"].outputs["schema"][0]
    executor_input = driver_input(
        spec, task,
        {"examples": as_kfp_input(examples, "examples", EMPTY_SCHEMA),
         "schema": as_kfp_input(schema, "schema", NO_TYPE)},
        tmp_path / "pipeline-root",
    )
    output = run_in_pod(spec, task, executor_input, cwd=tmp_path)

    statistics = single(output, "statistics")
    assert set(output.artifacts) == {"statistics"}  # executor-logs is the launcher's
    assert json.loads(statistics.metadata["split_names"]) == ["train", "eval", "test"]
    for split in ("train", "eval", "test"):
        stats = statistics_pb2.DatasetFeatureStatisticsList()
        path = os.path.join(statistics.uri, f"Split-{split}", "FeatureStats.pb")
        stats.ParseFromString(tf.io.gfile.GFile(path, "rb").read())
        dataset = stats.datasets[0]
        assert dataset.num_examples == count_examples(examples.uri, split)
        names = {f.path.step[0] for f in dataset.features}
        assert set(config.WDBC_FEATURES) | {config.WDBC_LABEL, config.WDBC_ID} <= names


def test_validation_gate_reads_and_writes_bcpipe_types(spec, local_nodes, tmp_path):
    validator = local_nodes["ExampleValidator"].outputs["anomalies"][0]
    proof = local_nodes["SplitCheck"].outputs["proof"][0]
    task = "ValidationGate"
    executor_input = driver_input(
        spec, task,
        {
            "anomalies": as_kfp_input(validator, "anomalies", NO_TYPE),
            "split_proof": as_kfp_input(proof, "proof", EMPTY_SCHEMA),
        },
        tmp_path / "pipeline-root",
    )
    output = run_in_pod(spec, task, executor_input, cwd=tmp_path)

    verdict = single(output, "verdict")
    assert verdict.metadata["passed"] == 1  # what the trigger condition of Transform reads
    assert artifacts.read_json(verdict.uri)["passed"] is True


def test_trainer_trains_on_inputs_typed_system_artifact(spec, local_nodes, tmp_path):
    transform = local_nodes["Transform"].outputs
    task = "Trainer"
    executor_input = driver_input(
        spec, task,
        {
            "examples": as_kfp_input(
                transform["transformed_examples"][0], "examples", SYSTEM_TITLE
            ),
            "transform_graph": as_kfp_input(transform["transform_graph"][0], "graph", NO_TYPE),
            "schema": as_kfp_input(
                local_nodes["SchemaImporter"].outputs["schema"][0], "schema", SYSTEM_TITLE
            ),
            "_ValidationGate.verdict": as_kfp_input(
                local_nodes["ValidationGate"].outputs["verdict"][0], "verdict", EMPTY_SCHEMA
            ),
        },
        tmp_path / "pipeline-root",
    )
    output = run_in_pod(spec, task, executor_input, cwd=tmp_path)

    assert set(output.artifacts) == {"model", "model_run"}
    model = single(output, "model")
    loaded = tf.saved_model.load(os.path.join(model.uri, "Format-Serving"))
    raw = local_nodes["CsvExampleGen"].outputs["examples"][0]
    files = tf.io.gfile.glob(os.path.join(raw.uri, "Split-test", "*"))
    batch = next(iter(tf.data.TFRecordDataset(files, compression_type="GZIP").batch(8)))
    probability = loaded.signatures[SERVING_DEFAULT](**{EXAMPLES_INPUT: batch})[PROBABILITY]
    assert probability.shape[0] == batch.shape[0]
    assert tf.reduce_all((probability >= 0) & (probability <= 1))
