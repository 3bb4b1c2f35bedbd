"""A span refused at the validation gate, on open-source KFP: its review report, then a
failed run, as `bcpipe run` reports it with exit 3.

TFX compiles ReviewReport as one task depending on every node, those inside the gate's Cond
too. KFP's Argo compiler makes each dependency `<task>.Succeeded`
(backend/src/v2/compiler/argocompiler/dag.go:713 `depends`); a task whose trigger condition
was false is Skipped, not Succeeded, so after a refused span the report never ran and the
run ended Succeeded. The pipeline spec's other way, trigger strategy
ALL_UPSTREAM_TASKS_COMPLETED, compiles to an Argo exit hook put on each of the task's
dependencies (dag.go:72-91, `taskToExitTemplate[dep]`): made for dsl.ExitHandler's one
sub-DAG, it would run the report once per dependency, and the driver cannot resolve an input
whose producer did not run (backend/src/v2/driver/resolve.go:732, "cannot find producer
task"). So the package gets, beside TFX's ReviewReport (which runs when the span passed):

- REFUSED_REPORT: the same component on the inputs made before the gate, triggered when the
  verdict did not pass;
- REFUSAL: after it, a step that prints the gate's reasons and exits EXIT_REJECTED, which
  fails the run. It is a step of its own because a step that fails has only its logs
  published (backend/src/v2/component/launcher_v2.go:787-790, uploadOutputArtifacts), and the
  report must be on the run page.
"""

from __future__ import annotations

GATE = "ValidationGate"
VERDICT = "verdict"
REPORT = "ReviewReport"
REFUSED_REPORT = "RefusedReviewReport"
REFUSAL = "GateRefusal"
REFUSAL_COMMAND = ("python", "-m", "pipeline.gate_refusal")
# How TFX's compiler names the verdict in the tasks of a Cond (`_<producer>.<output>`).
_COND_INPUT = f"_{GATE}.{VERDICT}"


def _refused(condition: str) -> str:
    """The gate's condition, negated, and read from the task's own `verdict` input."""
    ours = condition.replace(f"inputs.artifacts['{_COND_INPUT}']", f"inputs.artifacts['{VERDICT}']")
    if ours == condition:
        raise ValueError(f"not the gate's condition: {condition}")
    return f"!({ours})"


def add_refusal(spec) -> None:
    """Adds REFUSED_REPORT and REFUSAL to `spec` (a PipelineSpec), in place."""
    from google.protobuf import json_format
    from kfp.pipeline_spec import pipeline_spec_pb2 as pb

    tasks = spec.root.dag.tasks
    gated = {name for name, task in tasks.items() if task.trigger_policy.condition}
    if not gated:
        raise ValueError("no task sits in the validation gate's Cond")
    condition = _refused(tasks[min(gated)].trigger_policy.condition)

    report = tasks[REFUSED_REPORT]
    report.CopyFrom(tasks[REPORT])
    report.task_info.name = REFUSED_REPORT
    for key in [k for k, a in report.inputs.artifacts.items()
                if a.task_output_artifact.producer_task in gated]:
        del report.inputs.artifacts[key]
    report.ClearField("dependent_tasks")
    report.dependent_tasks.extend(
        sorted({a.task_output_artifact.producer_task for a in report.inputs.artifacts.values()})
    )
    report.trigger_policy.condition = condition

    gate_component = spec.components[tasks[GATE].component_ref.name]
    component = spec.components[REFUSAL]
    component.executor_label = f"{REFUSAL}_executor"
    component.input_definitions.artifacts[VERDICT].CopyFrom(
        pb.ComponentInputsSpec.ArtifactSpec(
            artifact_type=gate_component.output_definitions.artifacts[VERDICT].artifact_type
        )
    )
    executors = json_format.MessageToDict(spec.deployment_spec)["executors"]
    executors[component.executor_label] = {"container": {
        "image": executors[gate_component.executor_label]["container"]["image"],
        "command": list(REFUSAL_COMMAND),
        "args": ["--executor_input", "{{$}}"],
    }}
    spec.deployment_spec.update({"executors": executors})

    refusal = tasks[REFUSAL]
    refusal.task_info.name = REFUSAL
    refusal.component_ref.name = REFUSAL
    refusal.inputs.artifacts[VERDICT].task_output_artifact.producer_task = GATE
    refusal.inputs.artifacts[VERDICT].task_output_artifact.output_artifact_key = VERDICT
    refusal.dependent_tasks.extend(sorted([GATE, REFUSED_REPORT]))
    refusal.trigger_policy.condition = condition
    refusal.caching_options.enable_cache = False  # it is the run's status, every time
