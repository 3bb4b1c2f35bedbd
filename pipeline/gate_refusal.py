"""The last step of a KFP run whose span the validation gate refused (pipeline/kubeflow_gate.py):
prints the gate's reasons and exits EXIT_REJECTED, so that the run ends failed."""

from __future__ import annotations

import argparse
import sys

from components import artifacts
from components.validation_gate import describe
from pipeline import exits
from pipeline.kubeflow_gate import VERDICT


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--executor_input", required=True, help="the ExecutorInput, as JSON")
    args = parser.parse_args(argv)
    from google.protobuf import json_format
    from kfp.pipeline_spec import pipeline_spec_pb2 as pb

    executor_input = json_format.Parse(args.executor_input, pb.ExecutorInput(),
                                       ignore_unknown_fields=True)
    (verdict,) = executor_input.inputs.artifacts[VERDICT].artifacts
    result = artifacts.read_json(verdict.uri)
    if result["passed"]:
        print(f"the validation gate passed this span ({verdict.uri})", file=sys.stderr)
        return exits.EXIT_FAILURE
    print(f"the validation gate refused the span ({verdict.uri}):\n{describe(result)}",
          file=sys.stderr)
    return exits.EXIT_REJECTED


if __name__ == "__main__":
    sys.exit(main())
