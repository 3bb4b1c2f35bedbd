"""The container command of every step `bcpipe compile kubeflow` writes.

TFX's own entry point (kubeflow_v2_run_executor) expects the executor input Vertex AI
passes. Open-source Kubeflow Pipelines passes something else, and this module turns it into
what TFX expects before handing over:

- An input artifact produced upstream arrives typed `{instanceSchema: ""}` (the KFP driver
  does not keep the schema of an output), typed with a `system.*` schema title, or without a
  type. TFX derives the artifact's Python class from that type and fails on all three.
  The compiled component's own input and output definitions, passed to this module as
  arguments, say what each artifact is.
- The driver adds outputs the component does not declare (`executor-logs`, typed
  `system.Artifact`, which the launcher fills itself); TFX would try to build them.
- bcpipe's own artifact types are titled by TYPE_NAME (`bcpipe.SplitProof`); TFX imports a
  custom title as a class path, so the title is rewritten to the class's path.
- File-based ExampleGen's driver (latest span, fingerprint, resolved pattern) runs as a
  pre-cache hook on Vertex; KFP has no such hook, so it runs here, before the executor.

After the executor, two things TFX leaves would fail a step on KFP that did its work:
- the zero-byte `dir/` markers TF writes on GCS, which the next step's launcher cannot
  download (pipeline/directory_markers.py): removed under every output;
- interpreter teardown: TFX 1.16 executors on KFP v2 can abort there with "pure virtual
  method called" from the protobuf / ML Metadata destructors (sky-uk/kfp-operator#1286),
  a non-zero exit after the outputs were written. The process ends with os._exit once
  its output metadata is written and its streams flushed; an executor that raised still
  fails as usual.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

import yaml
from absl import app
from absl.flags import argparse_flags
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2 as pb
from tfx.dsl.io import fileio
from tfx.types.artifact import Artifact
from tfx.utils import import_utils, name_utils

INVOCATION = "json_serialized_invocation_args"
INPUTS_SPEC = "json_serialized_inputs_spec_args"
OUTPUTS_SPEC = "json_serialized_outputs_spec_args"
EXAMPLES = "examples"
INPUT_BASE = "input_base"


def _subclasses(cls: type) -> list[type]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return found


def artifact_classes() -> dict[str, str]:
    """TYPE_NAME -> class path of bcpipe's artifact types imported so far (those of
    components/artifacts.py, and those the executor's module defines once it is imported)."""
    import components.artifacts  # noqa: F401 - defines the types walked below

    return {
        cls.TYPE_NAME: name_utils.get_full_name(cls)
        for cls in _subclasses(Artifact)
        if cls.__module__.startswith("components.")
    }


def _type_for_tfx(
    declared: pb.ArtifactTypeSchema, classes: dict[str, str]
) -> pb.ArtifactTypeSchema:
    """The compiled type, with a bcpipe type's title replaced by its class path."""
    if declared.WhichOneof("kind") != "instance_schema":
        return declared
    schema = yaml.safe_load(declared.instance_schema) or {}
    title = schema.get("title")
    if title not in classes:
        return declared
    schema["title"] = classes[title]
    return pb.ArtifactTypeSchema(instance_schema=yaml.safe_dump(schema, sort_keys=False))


def normalise(
    executor_input: pb.ExecutorInput,
    inputs_spec: pb.ComponentInputsSpec,
    outputs_spec: pb.ComponentOutputsSpec,
) -> list[str]:
    """Types every artifact as the compiled component declares it; drops outputs it does not
    declare. Returns the names of the dropped outputs."""
    classes = artifact_classes()
    for key, artifacts in executor_input.inputs.artifacts.items():
        declared = inputs_spec.artifacts.get(key)
        if declared is None:
            raise ValueError(f"input artifact {key!r} is not declared by the compiled component")
        for artifact in artifacts.artifacts:
            artifact.type.CopyFrom(_type_for_tfx(declared.artifact_type, classes))
    dropped = [k for k in executor_input.outputs.artifacts if k not in outputs_spec.artifacts]
    for key in dropped:
        del executor_input.outputs.artifacts[key]
    for key, artifacts in executor_input.outputs.artifacts.items():
        declared = outputs_spec.artifacts[key].artifact_type
        for artifact in artifacts.artifacts:
            artifact.type.CopyFrom(_type_for_tfx(declared, classes))
    return dropped


def _is_file_based_example_gen(executor_cls: type, executor_input: pb.ExecutorInput) -> bool:
    from tfx.components.example_gen.base_example_gen_executor import BaseExampleGenExecutor

    return (
        issubclass(executor_cls, BaseExampleGenExecutor)
        and INPUT_BASE in executor_input.inputs.parameter_values
    )


def resolve_span(executor_input: pb.ExecutorInput, inputs_spec: pb.ComponentInputsSpec) -> None:
    """Runs TFX's ExampleGen driver, then gives the Examples output what the driver found
    (span, version, fingerprint); the executor reads the resolved pattern from its file."""
    from tfx.orchestration.kubeflow.v2.file_based_example_gen import driver

    driver.main(
        argparse.Namespace(
            **{
                INVOCATION: json_format.MessageToJson(executor_input),
                INPUTS_SPEC: json_format.MessageToJson(inputs_spec),
            }
        )
    )
    found = pb.ExecutorOutput()
    with fileio.open(executor_input.outputs.output_file, "r") as handle:
        json_format.Parse(handle.read(), found, ignore_unknown_fields=True)
    resolved = found.artifacts[EXAMPLES].artifacts[0].metadata
    for examples in executor_input.outputs.artifacts[EXAMPLES].artifacts:
        examples.metadata.update(json_format.MessageToDict(resolved))


def prepare(args: argparse.Namespace) -> argparse.Namespace:
    """The arguments TFX's entry point takes, with the executor input made fit for TFX."""
    # First, so that the artifact types its module defines are known to `normalise`.
    executor_cls = import_utils.import_class_by_path(args.executor_class_path)
    executor_input = json_format.Parse(
        getattr(args, INVOCATION), pb.ExecutorInput(), ignore_unknown_fields=True
    )
    inputs_spec = json_format.Parse(getattr(args, INPUTS_SPEC) or "{}", pb.ComponentInputsSpec())
    outputs_spec = json_format.Parse(
        getattr(args, OUTPUTS_SPEC) or "{}", pb.ComponentOutputsSpec()
    )
    normalise(executor_input, inputs_spec, outputs_spec)
    if _is_file_based_example_gen(executor_cls, executor_input) and not fileio.exists(
        executor_input.outputs.output_file
    ):
        resolve_span(executor_input, inputs_spec)
    return argparse.Namespace(
        executor_class_path=args.executor_class_path,
        **{
            INVOCATION: json_format.MessageToJson(executor_input),
            INPUTS_SPEC: getattr(args, INPUTS_SPEC),
        },
    )


def parse_flags(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    """Our flags, and the rest (Beam's) for the executor, as TFX's entry point splits them."""
    parser = argparse_flags.ArgumentParser()
    parser.add_argument("--executor_class_path", required=True)
    parser.add_argument(f"--{INVOCATION}", required=True)
    parser.add_argument(f"--{INPUTS_SPEC}")
    parser.add_argument(f"--{OUTPUTS_SPEC}")
    return parser.parse_known_args(argv[1:])


def output_uris(executor_input: pb.ExecutorInput) -> list[str]:
    """Where the outputs went: the URIs the driver gave, and any the executor set instead
    (the launcher records the latter, launcher_v2.go mergeRuntimeArtifacts)."""
    uris = [a.uri for k in executor_input.outputs.artifacts.values() for a in k.artifacts]
    written = pb.ExecutorOutput()
    with fileio.open(executor_input.outputs.output_file, "r") as handle:
        json_format.Parse(handle.read(), written, ignore_unknown_fields=True)
    return uris + [a.uri for k in written.artifacts.values() for a in k.artifacts if a.uri]


def main(parsed: tuple[argparse.Namespace, list[str]]) -> None:
    from tfx.orchestration.kubeflow.v2.container import kubeflow_v2_run_executor

    from pipeline import directory_markers

    args, beam_args = parsed
    prepared = prepare(args)
    kubeflow_v2_run_executor.main((prepared, beam_args))
    executor_input = json_format.Parse(getattr(prepared, INVOCATION), pb.ExecutorInput())
    for marker in directory_markers.remove(output_uris(executor_input)):
        logging.info("removed directory marker %s", marker)
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags)
