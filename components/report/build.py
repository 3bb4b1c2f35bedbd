"""Assembles the report from a run's artifacts into one JSON-able dict."""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass

import tensorflow as tf

from components import artifacts
from components.baseline import SERVING_MODEL_DIR
from components.model_files import pushed_content_hash
from components.report import (
    anomalies,
    data,
    decision,
    drift,
    history,
    model,
    model_card,
    provenance,
    schema_diff,
)
from components.schema_importer import SCHEMA_FILE
from pipeline.config import TRAIN_SPLIT, Profile, Review

REPORT_VERSION = 1


@dataclass
class Inputs:
    """A run's artifacts; those made after the validation gate are None when it stopped."""

    examples: object
    statistics: object
    schema: object
    anomalies: object
    split_proof: object
    verdict: object
    transform_graph: object = None
    model: object = None
    baseline_model: object = None
    evaluation: object = None
    blessing: object = None
    pushed_model: object = None


def _schema_text(schema_artifact) -> str:
    with tf.io.gfile.GFile(os.path.join(schema_artifact.uri, SCHEMA_FILE)) as handle:
        return handle.read()


def _drift_section(statistics: dict, schema, history_dir: str, span: int) -> dict:
    comparators = drift.has_comparators(schema)
    train = statistics[TRAIN_SPLIT]
    previous = history.previous_accepted_span(history_dir, span)
    section = {"comparators_in_schema": comparators, "previous_span": None, "drift": [],
               "skew": {}}
    if previous is None:
        section["note"] = f"no earlier span than {span} passed the gate: nothing to compare"
    else:
        record, stats = previous
        section["previous_span"] = record["span"]
        section["previous_examples_uri"] = record["examples_uri"]
        section["drift"] = drift.drift(train, stats.datasets[0], schema)
    section["skew"] = {
        split: drift.skew(train, stats, schema)
        for split, stats in statistics.items()
        if split != TRAIN_SPLIT and stats.num_examples
    }
    return section


def _schema_section(inputs: Inputs, text: str, last: dict | None, history_dir: str) -> dict:
    fingerprint = inputs.schema.get_string_custom_property("fingerprint")
    section = {
        "uri": inputs.schema.uri,
        "fingerprint": fingerprint,
        "source": inputs.schema.get_string_custom_property("source"),
        **schema_diff.summary(schema_diff.parse(text)),
        "last_run": None,
        "diff": None,
    }
    if last:
        section["last_run"] = {"span": last["span"], "fingerprint": last["schema_fingerprint"],
                               "report_uri": last["report_uri"]}
        previous = history.schema_text(history_dir, last["schema_fingerprint"])
        if previous is not None:
            section["diff"] = schema_diff.diff(previous, text)
    return section


def data_section(inputs: Inputs, profile: Profile, history_dir: str, last: dict | None) -> dict:
    statistics = data.load_statistics(inputs.statistics)
    text = _schema_text(inputs.schema)
    schema = schema_diff.parse(text)
    verdict = artifacts.read_json(inputs.verdict.uri)
    span = data.span_of(inputs.examples)
    return {
        "span": span,
        "examples_uri": inputs.examples.uri,
        "input_fingerprint": inputs.examples.get_string_custom_property("input_fingerprint"),
        "splits": data.splits(artifacts.read_json(inputs.split_proof.uri)),
        "ingestion": data.ingestion_counts(inputs.examples),
        "class_balance": data.class_balance(statistics, profile.label_key),
        "label_key": profile.label_key,
        "features": data.features(statistics),
        "statistics_uri": inputs.statistics.uri,
        "schema": _schema_section(inputs, text, last, history_dir),
        "gate": {"passed": verdict["passed"], "leaks": verdict["leaks"],
                 "cohort": verdict.get("cohort", []),
                 "blessing_evidence": verdict.get("blessing_evidence")},
        "anomalies": anomalies.from_verdict(verdict),
        "drift": _drift_section(statistics, schema, history_dir, span),
    }


def lineage(inputs: Inputs, code_version: str) -> dict:
    entries = [
        provenance.artifact_entry(inputs.examples, what="data span (examples)"),
        provenance.artifact_entry(inputs.schema, what="schema"),
        provenance.artifact_entry(inputs.statistics, what="statistics"),
    ]
    optional = [
        (inputs.transform_graph, "transform graph", ""),
        (inputs.model, "model (served SavedModel)", SERVING_MODEL_DIR),
        (inputs.evaluation, "evaluation (TFMA)", ""),
        (inputs.blessing, "blessing", ""),
    ]
    entries += [provenance.artifact_entry(a, what=w, subdir=s) for a, w, s in optional if a]
    if inputs.pushed_model and inputs.pushed_model.get_int_custom_property("pushed") == 1:
        destination = inputs.pushed_model.get_string_custom_property("pushed_destination")
        entries.append({"what": "pushed model", "type": "PushedModel",
                        "artifact_id": inputs.pushed_model.id, "uri": destination,
                        "content_hash": pushed_content_hash(destination)})
    return {
        "code_version": code_version,
        "packages": provenance.package_versions(),
        "artifacts": entries,
    }


def build(
    inputs: Inputs,
    *,
    profile: Profile,
    review: Review,
    code_version: str,
    history_dir: str,
    pipeline_name: str,
    run_id: str,
) -> dict:
    last = history.last_run(history_dir)
    data_part = data_section(inputs, profile, history_dir, last)
    if inputs.model is not None:
        model_part = {"trained": True, **model.section(
            profile=profile, review=review, examples=inputs.examples, model=inputs.model,
            baseline_model=inputs.baseline_model, evaluation=inputs.evaluation,
        )}
    else:
        model_part = {"trained": False, "splits": {}, "slices": {"rows": []}}
    report = {
        "report_version": REPORT_VERSION,
        "run": {
            "pipeline": pipeline_name,
            "profile": profile.name,
            "run_id": run_id,
            "generated_at": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        },
        "decision": decision.decide(
            data_part, model_part, blessing=inputs.blessing, pushed=inputs.pushed_model),
        "data": data_part,
        "model": model_part,
        "lineage": lineage(inputs, code_version),
    }
    report["model_card"] = model_card.build(report, profile)
    return report


def remember(inputs: Inputs, report_uri: str, history_dir: str, passed_gate: bool) -> None:
    """Leaves this run's train statistics and schema for the next run's drift and diff."""
    history.record_run(
        history_dir,
        span=data.span_of(inputs.examples),
        passed_gate=passed_gate,
        examples_uri=inputs.examples.uri,
        train_statistics_file=data.statistics_file(inputs.statistics, TRAIN_SPLIT),
        schema=_schema_text(inputs.schema),
        schema_fingerprint=inputs.schema.get_string_custom_property("fingerprint"),
        report_uri=report_uri,
    )

