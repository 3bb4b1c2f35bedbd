"""The executor input open-source KFP passes, before and after `normalise`, read by the very
function TFX's entry point uses to build its artifacts."""

import pytest
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2 as pb
from tfx.orchestration.kubeflow.v2 import compiler_utils
from tfx.orchestration.kubeflow.v2.container.kubeflow_v2_entrypoint_utils import (
    parse_raw_artifact_dict,
)
from tfx.types import standard_artifacts
from tfx.types.channel import Channel

from components.artifacts import SplitProof, ValidationVerdict
from pipeline.pod_entrypoint import artifact_classes, normalise

KFP_SHAPES = {
    "empty instance schema": {"instanceSchema": ""},
    "system title": {"schemaTitle": "system.Artifact"},
    "no type": None,
}


def declared(artifact_type) -> dict:
    """The definition TFX's compiler writes for an artifact of `artifact_type`."""
    spec = compiler_utils.build_input_artifact_spec(Channel(type=artifact_type))
    return json_format.MessageToDict(spec)


def executor_input(input_type, output_type=None) -> pb.ExecutorInput:
    artifact = {"name": "12", "uri": "gs://b/r/up/examples", "metadata": {"span": 3.0}}
    if input_type is not None:
        artifact["type"] = input_type
    output = {"uri": "gs://b/r/task/out"}
    if output_type is not None:
        output["type"] = output_type
    return json_format.ParseDict(
        {
            "inputs": {"artifacts": {"examples": {"artifacts": [artifact]}}},
            "outputs": {
                "artifacts": {
                    "proof": {"artifacts": [output]},
                    "executor-logs": {"artifacts": [{
                        "uri": "gs://b/r/task/logs", "type": {"schemaTitle": "system.Artifact"}
                    }]},
                },
                "outputFile": "/tmp/kfp_outputs/output_metadata.json",
            },
        },
        pb.ExecutorInput(),
    )


INPUTS = json_format.ParseDict(
    {"artifacts": {"examples": declared(standard_artifacts.Examples)}}, pb.ComponentInputsSpec()
)
OUTPUTS = json_format.ParseDict(
    {"artifacts": {"proof": declared(SplitProof)}}, pb.ComponentOutputsSpec()
)


@pytest.mark.parametrize("shape", KFP_SHAPES.values(), ids=KFP_SHAPES.keys())
def test_tfx_alone_cannot_read_what_kfp_passes(shape):
    with pytest.raises((AttributeError, ImportError, UnboundLocalError)):
        parse_raw_artifact_dict(executor_input(shape).inputs.artifacts)


@pytest.mark.parametrize("shape", KFP_SHAPES.values(), ids=KFP_SHAPES.keys())
def test_inputs_get_the_declared_type_and_keep_their_properties(shape):
    given = executor_input(shape)
    normalise(given, INPUTS, OUTPUTS)
    (examples,) = parse_raw_artifact_dict(given.inputs.artifacts)["examples"]
    assert isinstance(examples, standard_artifacts.Examples)
    assert examples.uri == "gs://b/r/up/examples"
    assert examples.span == 3


def test_undeclared_outputs_are_left_to_the_launcher():
    given = executor_input(KFP_SHAPES["no type"], output_type=declared(SplitProof)["artifactType"])
    normalise(given, INPUTS, OUTPUTS)
    assert set(given.outputs.artifacts) == {"proof"}


def test_bcpipe_types_become_importable():
    from components.review_report import ReviewReportArtifact

    classes = artifact_classes()
    assert classes[ValidationVerdict.TYPE_NAME] == "components.artifacts.ValidationVerdict"
    assert classes[ReviewReportArtifact.TYPE_NAME] == (
        "components.review_report.ReviewReportArtifact"
    )
    # TFX imports a custom type's title as a class path: `bcpipe.SplitProof` is none.
    given = executor_input(None, output_type=declared(SplitProof)["artifactType"])
    with pytest.raises(ImportError):
        parse_raw_artifact_dict(given.outputs.artifacts)
    normalise(given, INPUTS, OUTPUTS)
    (proof,) = parse_raw_artifact_dict(given.outputs.artifacts)["proof"]
    assert isinstance(proof, SplitProof)
    assert proof.type_name == SplitProof.TYPE_NAME


def test_an_input_the_component_does_not_declare_is_refused():
    given = executor_input(KFP_SHAPES["no type"])
    with pytest.raises(ValueError, match="examples"):
        normalise(given, pb.ComponentInputsSpec(), OUTPUTS)
