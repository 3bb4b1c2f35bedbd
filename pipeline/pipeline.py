"""The one DAG both pipelines share; a Profile says what differs (DESIGN.md)."""

from __future__ import annotations

import tensorflow_model_analysis as tfma
from tfx import v1 as tfx

from components import cohort
from components.baseline import ServedBaseline
from components.evaluator import Evaluator
from components.idc.example_gen import IdcExampleGen
from components.pusher import Pusher
from components.report.provenance import code_version
from components.review_report import ReviewReport
from components.schema_importer import SchemaImporter, fingerprint
from components.split_check import SplitCheck
from components.validation_gate import ValidationGate
from pipeline.config import EVAL_SPLIT, PROJECT_ROOT, TRAIN_SPLIT, Profile
from serving.signatures import LABEL, PROBABILITY


def _output_config(profile: Profile) -> tfx.proto.Output:
    return tfx.proto.Output(
        split_config=tfx.proto.SplitConfig(
            splits=[
                tfx.proto.SplitConfig.Split(name=name, hash_buckets=buckets)
                for name, buckets in profile.split_buckets
            ],
            partition_feature_name=profile.partition_key,
        )
    )


def _example_gen(profile: Profile, data_root: str):
    if profile.example_gen == "csv":
        return tfx.components.CsvExampleGen(
            input_base=data_root,
            # New data arrives as span-<N>/ directories; {SPAN} makes ExampleGen take the latest.
            input_config=tfx.proto.Input(
                splits=[tfx.proto.Input.Split(name="single_split", pattern="span-{SPAN}/*")]
            ),
            output_config=_output_config(profile),
        )
    if profile.example_gen == "idc":
        return IdcExampleGen(
            input_base=data_root,
            # patient/class folders: their mtimes change when patches come or go, so the
            # driver's fingerprint notices new data without stat-ing every patch.
            input_config=tfx.proto.Input(
                splits=[tfx.proto.Input.Split(name="archive", pattern="*/*")]
            ),
            output_config=_output_config(profile),
        )
    raise ValueError(f"profile {profile.name}: unknown example_gen {profile.example_gen!r}")


def _overall(threshold: tfma.MetricThreshold) -> dict:
    """Gate on the whole blessing split only: per-slice values (one patient, edge patches) are
    reported, not gated, or a patient with few positives would block every model."""
    return {
        "per_slice_thresholds": [
            tfma.PerSliceMetricThreshold(slicing_specs=[tfma.SlicingSpec()], threshold=threshold)
        ]
    }


def _at_least(lower_bound: float) -> dict:
    return _overall(
        tfma.MetricThreshold(
            value_threshold=tfma.GenericValueThreshold(lower_bound={"value": lower_bound})
        )
    )


def eval_config(profile: Profile) -> tfma.EvalConfig:
    """Thresholds from the profile; sensitivity and specificity at the served threshold.

    The model outputs `probability` and `label` (0/1 at the operating threshold). AUC is
    read from `probability`; accuracy, sensitivity and specificity from `label` at 0.5,
    which is exactly the decision clients receive.
    """
    t = profile.thresholds
    labels = {PROBABILITY: profile.label_key, LABEL: profile.label_key}
    model_specs = [
        tfma.ModelSpec(name=name, signature_name="serving_default", label_keys=labels,
                       is_baseline=is_baseline)
        for name, is_baseline in (("candidate", False), ("baseline", True))
    ]
    auc = tfma.MetricConfig(
        class_name="AUC",
        **_overall(
            tfma.MetricThreshold(
                value_threshold=tfma.GenericValueThreshold(lower_bound={"value": t.auc}),
                change_threshold=tfma.GenericChangeThreshold(
                    direction=tfma.MetricDirection.HIGHER_IS_BETTER,
                    absolute={"value": -t.auc_change_tolerance},
                ),
            )
        ),
    )
    probability_metrics = [
        tfma.MetricConfig(class_name="ExampleCount"),
        auc,
        tfma.MetricConfig(class_name="AUCPrecisionRecall"),
        tfma.MetricConfig(class_name="BinaryCrossentropy"),
        # The Brier score: the mean squared error of P(malignant) against the 0/1 label.
        tfma.MetricConfig(class_name="MeanSquaredError", config='{"name": "brier_score"}'),
        tfma.MetricConfig(class_name="MeanPrediction"),
        tfma.MetricConfig(class_name="MeanLabel"),
        tfma.MetricConfig(class_name="CalibrationPlot"),
        tfma.MetricConfig(class_name="ConfusionMatrixPlot"),
    ]
    decision_metrics = [
        tfma.MetricConfig(class_name="BinaryAccuracy", **_at_least(t.accuracy)),
        tfma.MetricConfig(
            class_name="Recall", config='{"name": "sensitivity"}', **_at_least(t.sensitivity)
        ),
        tfma.MetricConfig(class_name="Specificity", **_at_least(t.specificity)),
        tfma.MetricConfig(class_name="Precision"),
        tfma.MetricConfig(class_name="NegativePredictiveValue"),
        tfma.MetricConfig(class_name="F1Score"),
        tfma.MetricConfig(class_name="BalancedAccuracy"),
        tfma.MetricConfig(class_name="ConfusionMatrixAtThresholds",
                          config='{"thresholds": [0.5]}'),
    ]
    return tfma.EvalConfig(
        model_specs=model_specs,
        slicing_specs=[
            *(tfma.SlicingSpec(feature_keys=list(keys)) for keys in profile.slices),
            *(tfma.SlicingSpec(slice_keys_sql=s.sql) for s in profile.sql_slices),
        ],
        metrics_specs=[
            tfma.MetricsSpec(output_names=[PROBABILITY], metrics=probability_metrics),
            tfma.MetricsSpec(output_names=[LABEL], metrics=decision_metrics),
        ],
    )


def gate_passed(gate) -> tfx.dsl.Cond:
    """Nodes created inside run only if the gate passed; its verdict says why when not."""
    return tfx.dsl.Cond(gate.outputs["verdict"].future()[0].custom_property("passed") == 1)


def create_pipeline(
    *,
    profile: Profile,
    pipeline_name: str,
    pipeline_root: str,
    data_root: str,
    serving_model_dir: str,
    served_version: int,
    train_steps: int,
    beam_pipeline_args: list[str],
    metadata_connection_config=None,
    enable_cache: bool = True,
) -> tfx.dsl.Pipeline:
    """Every path and flag is an argument; runners only choose them.

    served_version: the version under serving_model_dir to compare against (0 = none
    served, -1 = whatever is latest when the baseline step runs).
    """
    example_gen = _example_gen(profile, data_root)
    split_check = SplitCheck(
        examples=example_gen.outputs["examples"], partition_key=profile.partition_key,
        label_key=profile.label_key,
    )
    schema_gen = SchemaImporter(
        schema_file=str(profile.schema_file), schema_fingerprint=fingerprint(profile.schema_file)
    )
    # Without the schema TFDV counts every distinct value of a BYTES feature to find its top
    # values, so it held every PNG in memory; the schema's image_domain marks `image` as bytes.
    statistics_gen = tfx.components.StatisticsGen(
        examples=example_gen.outputs["examples"], schema=schema_gen.outputs["schema"]
    )
    example_validator = tfx.components.ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"]
    )
    gate = ValidationGate(
        anomalies=example_validator.outputs["anomalies"], split_proof=split_check.outputs["proof"],
        requirements=cohort.requirements(profile),
    )
    with gate_passed(gate):
        transform = tfx.components.Transform(
            examples=example_gen.outputs["examples"],
            schema=schema_gen.outputs["schema"],
            preprocessing_fn=profile.preprocessing_fn,
            # Nothing reads Transform's own pre/post statistics (StatisticsGen has the data's);
            # on a DirectRunner they also made it hold every transformed example in memory.
            disable_statistics=True,
        )
        trainer = tfx.components.Trainer(
            run_fn=profile.run_fn,
            examples=transform.outputs["transformed_examples"],
            transform_graph=transform.outputs["transform_graph"],
            schema=schema_gen.outputs["schema"],
            # Named, not left to TFX's defaults: the blessing split must not be among them.
            train_args=tfx.proto.TrainArgs(num_steps=train_steps, splits=[TRAIN_SPLIT]),
            eval_args=tfx.proto.EvalArgs(num_steps=None, splits=[EVAL_SPLIT]),
            custom_config=profile.custom_config(),
        )
        baseline = ServedBaseline(
            serving_model_dir=serving_model_dir, served_version=served_version
        )
        evaluator = Evaluator(
            examples=example_gen.outputs["examples"],
            model=trainer.outputs["model"],
            baseline_model=baseline.outputs["baseline"],
            eval_config=eval_config(profile),
            example_splits=[profile.blessing_split],
        )
        pusher = Pusher(
            model=trainer.outputs["model"],
            model_blessing=evaluator.outputs["blessing"],
            serving_model_dir=serving_model_dir,
        )
    # Outside the Cond: it reports a rejected span too. What the Cond skipped arrives empty.
    report = ReviewReport(
        profile=profile.name,
        code_version=code_version(PROJECT_ROOT),
        pipeline_root=pipeline_root,
        examples=example_gen.outputs["examples"],
        statistics=statistics_gen.outputs["statistics"],
        schema=schema_gen.outputs["schema"],
        anomalies=example_validator.outputs["anomalies"],
        split_proof=split_check.outputs["proof"],
        verdict=gate.outputs["verdict"],
        transform_graph=transform.outputs["transform_graph"],
        model=trainer.outputs["model"],
        baseline_model=baseline.outputs["baseline"],
        evaluation=evaluator.outputs["evaluation"],
        blessing=evaluator.outputs["blessing"],
        pushed_model=pusher.outputs["pushed_model"],
    )
    return tfx.dsl.Pipeline(
        pipeline_name=pipeline_name,
        pipeline_root=pipeline_root,
        components=[
            example_gen, split_check, statistics_gen, schema_gen, example_validator, gate,
            transform, trainer, baseline, evaluator, pusher, report,
        ],
        enable_cache=enable_cache,
        metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=beam_pipeline_args,
    )
