"""ExampleGen in a Kubeflow pod, called the way open-source KFP calls it: its driver (latest
span) runs in the pod, as KFP has no pre-cache hook.

The step's container command and arguments come from the compiled pipeline spec; the
executor input is built the way the open-source KFP v2 driver builds it (backend/src/v2/driver:
parameters resolved from the task spec, outputs provisioned from the component's output
definitions plus `executor-logs`). Every other step, on inputs typed as KFP's drivers hand
them on, runs in tests/test_kubeflow_on_gcs.py.
"""

from __future__ import annotations

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

from pipeline import config
from pipeline.kubeflow_runner import compile_pipeline, read_package

pytestmark = pytest.mark.e2e

TRAIN_STEPS = 20
SYSTEM_TITLE = {"schemaTitle": "system.Artifact"}
EXECUTOR_LOGS = "executor-logs"


@pytest.fixture(scope="module")
def spec(tmp_path_factory) -> pb.PipelineSpec:
    out = tmp_path_factory.mktemp("compiled")
    package = compile_pipeline(
        config.WDBC, image="registry.example/bcpipe:test", pipeline_root="gs://unused/root",
        out_dir=out, train_steps=TRAIN_STEPS,
    )
    return read_package(package)[0]


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
