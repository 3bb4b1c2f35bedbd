"""The review report: the last node of both pipelines, run blessed or not.

It sits outside the validation gate's Cond, so it runs when the gate stopped the run too;
every input made inside the Cond is optional and arrives empty when that node was skipped.
"""

from __future__ import annotations

import os

from tfx import v1 as tfx
from tfx.dsl.components.base import base_component, base_executor, executor_spec
from tfx.dsl.io import fileio
from tfx.types import artifact_utils, component_spec, standard_artifacts
from tfx.types import channel as channel_types

from components import artifacts
from components.report import build, files
from pipeline import config

HISTORY_DIR = "history"


class ReviewReportArtifact(tfx.dsl.Artifact):
    """report.json (the content), report.html, report.md and model_card.json."""

    TYPE_NAME = "bcpipe.ReviewReport"


_REQUIRED = {
    "examples": standard_artifacts.Examples,
    "statistics": standard_artifacts.ExampleStatistics,
    "schema": standard_artifacts.Schema,
    "anomalies": standard_artifacts.ExampleAnomalies,
    "split_proof": artifacts.SplitProof,
    "verdict": artifacts.ValidationVerdict,
}
_AFTER_GATE = {
    "transform_graph": standard_artifacts.TransformGraph,
    "model": standard_artifacts.Model,
    "baseline_model": standard_artifacts.Model,
    "evaluation": standard_artifacts.ModelEvaluation,
    "blessing": standard_artifacts.ModelBlessing,
    "pushed_model": standard_artifacts.PushedModel,
}


class ReviewReportSpec(component_spec.ComponentSpec):
    PARAMETERS = {
        "profile": component_spec.ExecutionParameter(type=str),
        "code_version": component_spec.ExecutionParameter(type=str),
        "history_dir": component_spec.ExecutionParameter(type=str),
    }
    INPUTS = {
        **{k: component_spec.ChannelParameter(type=t) for k, t in _REQUIRED.items()},
        **{k: component_spec.ChannelParameter(type=t, optional=True)
           for k, t in _AFTER_GATE.items()},
    }
    OUTPUTS = {
        "report": component_spec.ChannelParameter(type=ReviewReportArtifact),
        # The same report where the KFP UI shows it (components/artifacts.py).
        "html": component_spec.ChannelParameter(type=artifacts.HtmlPage),
        "markdown": component_spec.ChannelParameter(type=artifacts.MarkdownPage),
        "metrics": component_spec.ChannelParameter(type=artifacts.ScalarMetrics),
    }


def _page(artifact, source: str, display_name: str) -> None:
    """A copy of `source` as the artifact, its URI the file itself (the UI reads one file)."""
    target = os.path.join(artifact.uri, os.path.basename(source))
    fileio.makedirs(artifact.uri)
    fileio.copy(source, target, overwrite=True)
    artifact.uri = target
    artifact.set_string_custom_property(artifacts.DISPLAY_NAME, display_name)


def blessing_metrics(report: dict) -> dict[str, float]:
    """The figures the blessing was decided on: each threshold's metric (`_change` for one
    against the baseline), and `blessed`; none when no model was evaluated."""
    if report["decision"]["blessed"] is None:
        return {}
    found = {"blessed": float(report["decision"]["blessed"])}
    for threshold in report["model"]["tfma"]["thresholds"]:
        if threshold["value"] is not None:
            suffix = "" if threshold["kind"] == "value" else f"_{threshold['kind']}"
            found[f"{threshold['metric']}{suffix}"] = float(threshold["value"])
    return found


def _single(input_dict: dict, key: str):
    found = input_dict.get(key) or []
    return artifact_utils.get_single_instance(found) if found else None


def inputs_from(input_dict: dict) -> build.Inputs:
    return build.Inputs(**{key: _single(input_dict, key) for key in (*_REQUIRED, *_AFTER_GATE)})


class Executor(base_executor.BaseExecutor):
    def Do(self, input_dict, output_dict, exec_properties):  # noqa: N802 (TFX's name)
        inputs = inputs_from(input_dict)
        output = artifact_utils.get_single_instance(output_dict["report"])
        context = self._context
        report = build.build(
            inputs,
            profile=config.profile(exec_properties["profile"]),
            review=config.REVIEW,
            code_version=exec_properties["code_version"],
            history_dir=exec_properties["history_dir"],
            pipeline_name=context.pipeline_info.id if context and context.pipeline_info else "",
            run_id=(context.pipeline_run_id if context else None) or "",
        )
        paths = files.write(report, output.uri, table_rows=config.REVIEW.max_table_rows)
        build.remember(inputs, output.uri, exec_properties["history_dir"],
                       passed_gate=report["data"]["gate"]["passed"])
        output.set_string_custom_property("status", report["decision"]["status"])
        output.set_string_custom_property("html", paths[files.REPORT_HTML])
        output.set_int_custom_property("span", report["data"]["span"])
        single = artifact_utils.get_single_instance
        _page(single(output_dict["html"]), paths[files.REPORT_HTML], "review report")
        _page(single(output_dict["markdown"]), paths[files.REPORT_MD], "review report (text)")
        metrics = single(output_dict["metrics"])
        metrics.set_string_custom_property(artifacts.DISPLAY_NAME, "blessing metrics")
        for name, value in blessing_metrics(report).items():
            metrics.set_float_custom_property(name, value)


class ReviewReport(base_component.BaseComponent):
    """Data, model, model card and lineage of one run, for the people who approve it."""

    SPEC_CLASS = ReviewReportSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)

    def __init__(self, *, profile: str, code_version: str, pipeline_root: str, **channels):
        super().__init__(spec=ReviewReportSpec(
            profile=profile,
            code_version=code_version,
            # A stable place beside the runs (open-source KFP has no resolver to find the
            # previous span's statistics in the metadata store).
            history_dir=os.path.join(pipeline_root, HISTORY_DIR),
            report=channel_types.Channel(type=ReviewReportArtifact),
            html=channel_types.Channel(type=artifacts.HtmlPage),
            markdown=channel_types.Channel(type=artifacts.MarkdownPage),
            metrics=channel_types.Channel(type=artifacts.ScalarMetrics),
            **channels,
        ))
