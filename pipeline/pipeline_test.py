"""eval_config: every slice the profile names, thresholds on the overall slice only; the
DAG: which split each of the Trainer and the Evaluator reads."""

import json

import pytest
import tensorflow_model_analysis as tfma

from pipeline.config import (
    EVAL_SPLIT,
    IDC,
    IDC_PATCH_SIZE_SLICE,
    IDC_PATIENT,
    TEST_SPLIT,
    TRAIN_SPLIT,
    WDBC,
)
from pipeline.pipeline import create_pipeline, eval_config


def test_idc_is_sliced_overall_by_patient_and_by_patch_size():
    specs = eval_config(IDC).slicing_specs
    assert tfma.SlicingSpec() in specs
    assert tfma.SlicingSpec(feature_keys=[IDC_PATIENT]) in specs
    assert tfma.SlicingSpec(slice_keys_sql=IDC_PATCH_SIZE_SLICE.sql) in specs


def test_thresholds_gate_the_overall_slice_only():
    for profile in (IDC, WDBC):
        gated = [
            threshold.slicing_specs
            for metrics_spec in eval_config(profile).metrics_specs
            for metric in metrics_spec.metrics
            for threshold in metric.per_slice_thresholds
        ]
        assert len(gated) == 4 and all(list(s) == [tfma.SlicingSpec()] for s in gated)
        assert not any(m.HasField("threshold") for spec in eval_config(profile).metrics_specs
                       for m in spec.metrics)


@pytest.mark.parametrize("profile", [IDC, WDBC], ids=lambda p: p.name)
def test_the_evaluator_blesses_on_a_split_the_trainer_never_reads(tmp_path, profile):
    built = create_pipeline(
        profile=profile, pipeline_name=f"bcpipe-{profile.name}",
        pipeline_root=str(tmp_path / "root"), data_root=str(tmp_path / "data"),
        serving_model_dir=str(tmp_path / "serving"), served_version=0, train_steps=10,
        beam_pipeline_args=[],
    )
    nodes = {node.id: node for node in built.components}
    trainer, evaluator = nodes["Trainer"].exec_properties, nodes["Evaluator"].exec_properties
    assert json.loads(trainer["train_args"])["splits"] == [TRAIN_SPLIT]
    assert json.loads(trainer["eval_args"])["splits"] == [EVAL_SPLIT]
    assert json.loads(evaluator["example_splits"]) == [profile.blessing_split] == [TEST_SPLIT]
    assert {name for name, _ in profile.split_buckets} == {TRAIN_SPLIT, EVAL_SPLIT, TEST_SPLIT}
