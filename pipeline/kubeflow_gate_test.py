"""The tasks a refused span runs on KFP, read from the compiled package as KFP reads it."""

import celpy
import pytest
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2 as pb

from pipeline import config
from pipeline.kubeflow_gate import (
    GATE,
    REFUSAL,
    REFUSAL_COMMAND,
    REFUSED_REPORT,
    REPORT,
    VERDICT,
    add_refusal,
)
from pipeline.kubeflow_runner import compile_pipeline, read_package

BEFORE_GATE = {"examples", "statistics", "schema", "anomalies", "split_proof", "verdict"}


@pytest.fixture(scope="module")
def spec(tmp_path_factory):
    path = compile_pipeline(config.WDBC, image="registry.example/bcpipe:1", out_dir=(
        tmp_path_factory.mktemp("kfp")), pipeline_root="gs://b/root")
    return read_package(path)[0]


def triggers(condition: str, passed: float) -> bool:
    """The condition evaluated as the driver does, CEL over the task's ExecutorInput."""
    executor_input = pb.ExecutorInput()
    artifact = executor_input.inputs.artifacts[VERDICT].artifacts.add(name="7", uri="gs://v")
    artifact.metadata.update({"passed": passed})
    environment = celpy.Environment()
    program = environment.program(environment.compile(condition))
    fields = json_format.MessageToDict(executor_input, preserving_proto_field_name=True)
    return bool(program.evaluate(celpy.json_to_cel(fields)))


def test_the_refused_report_reads_only_what_was_made_before_the_gate(spec):
    tasks = spec.root.dag.tasks
    refused = tasks[REFUSED_REPORT]
    assert refused.component_ref.name == tasks[REPORT].component_ref.name
    assert set(refused.inputs.artifacts) == BEFORE_GATE
    producers = {a.task_output_artifact.producer_task for a in refused.inputs.artifacts.values()}
    assert set(refused.dependent_tasks) == producers
    assert not any(tasks[p].trigger_policy.condition for p in producers)
    assert refused.inputs.parameters == tasks[REPORT].inputs.parameters


def test_refused_tasks_run_exactly_when_the_gated_ones_do_not(spec):
    tasks = spec.root.dag.tasks
    for name in (REFUSED_REPORT, REFUSAL):
        condition = tasks[name].trigger_policy.condition
        assert triggers(condition, 0.0) is True, name
        assert triggers(condition, 1.0) is False, name


def test_the_refusal_fails_the_run_after_the_report(spec):
    tasks = spec.root.dag.tasks
    refusal = tasks[REFUSAL]
    assert set(refusal.dependent_tasks) == {GATE, REFUSED_REPORT}
    source = refusal.inputs.artifacts[VERDICT].task_output_artifact
    assert (source.producer_task, source.output_artifact_key) == (GATE, VERDICT)
    assert not refusal.caching_options.enable_cache
    executor = json_format.ParseDict(
        json_format.MessageToDict(spec.deployment_spec), pb.PipelineDeploymentConfig()
    ).executors[spec.components[REFUSAL].executor_label]
    assert tuple(executor.container.command) == REFUSAL_COMMAND
    assert list(executor.container.args) == ["--executor_input", "{{$}}"]
    assert executor.container.image == "registry.example/bcpipe:1"


def test_a_spec_without_the_gate_is_refused():
    spec = pb.PipelineSpec()
    spec.root.dag.tasks[REPORT].trigger_policy.condition = "inputs.parameter_values['x'] == 1"
    with pytest.raises(ValueError, match="not the gate's condition"):
        add_refusal(spec)
