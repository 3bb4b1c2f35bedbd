"""eval_config: every slice the profile names, thresholds on the overall slice only."""

import tensorflow_model_analysis as tfma

from pipeline.config import IDC, IDC_PATCH_SIZE_SLICE, IDC_PATIENT, WDBC
from pipeline.pipeline import eval_config


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
