"""GateRefusal's exit: 3 with the gate's reasons for a refused span; a passed one is a bug."""

import json

from components import artifacts
from pipeline import exits
from pipeline.gate_refusal import main

VERDICT = {"passed": False, "anomalies": {}, "leaks": {}, "partition_key": "id",
           "cohort": [{"split": "", "message": "the data hold one class only"}]}


def executor_input(uri: str) -> str:
    return json.dumps({"inputs": {"artifacts": {"verdict": {"artifacts": [{"uri": uri}]}}}})


def test_a_refused_span_exits_3_with_the_gates_reasons(tmp_path, capsys):
    artifacts.write_json(str(tmp_path), VERDICT)
    assert main(["--executor_input", executor_input(str(tmp_path))]) == exits.EXIT_REJECTED
    assert "[data] the data hold one class only" in capsys.readouterr().err


def test_a_passed_span_never_reaches_it(tmp_path):
    artifacts.write_json(str(tmp_path), {**VERDICT, "passed": True})
    assert main(["--executor_input", executor_input(str(tmp_path))]) == exits.EXIT_FAILURE
