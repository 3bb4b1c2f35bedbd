"""TFX's Evaluator, taught that a baseline artifact with nothing served is no baseline.

With the baseline dropped, TFMA rubber-stamps the change threshold (first push) while every
value threshold still applies.
"""

from __future__ import annotations

from tfx import v1 as tfx
from tfx.components.evaluator import executor as evaluator_executor
from tfx.dsl.components.base import executor_spec

from components.baseline import NO_BASELINE

BASELINE_KEY = "baseline_model"


class Executor(evaluator_executor.Executor):
    def Do(self, input_dict, output_dict, exec_properties):  # noqa: N802 (TFX's name)
        served = [
            model
            for model in input_dict.get(BASELINE_KEY, [])
            if model.get_int_custom_property("served_version") != NO_BASELINE
        ]
        return super().Do({**input_dict, BASELINE_KEY: served}, output_dict, exec_properties)


class Evaluator(tfx.components.Evaluator):
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(Executor)
