"""The IDC patch-size slice: full 50x50 patches and edge patches, as TFMA's SQL names them."""

import numpy as np
import pytest

from components.report.sql_slices import slice_values
from pipeline.config import IDC, IDC_EDGE, IDC_FULL, IDC_PATCH_SIZE_SLICE


def test_idc_profile_slices_by_patch_size():
    assert IDC_PATCH_SIZE_SLICE in IDC.sql_slices


@pytest.mark.parametrize(
    ("height", "width", "expected"),
    [(50, 50, IDC_FULL), (49, 50, IDC_EDGE), (50, 20, IDC_EDGE), (23, 31, IDC_EDGE)],
)
def test_patch_size_of_one_patch(height, width, expected):
    columns = {"height": np.array([height]), "width": np.array([width])}
    assert slice_values(IDC_PATCH_SIZE_SLICE, columns).tolist() == [expected]


def test_a_batch_keeps_example_order_and_an_empty_split_has_no_values():
    columns = {"height": np.array([50, 30, 50, 50]), "width": np.array([50, 50, 50, 44])}
    assert slice_values(IDC_PATCH_SIZE_SLICE, columns).tolist() == [
        IDC_FULL, IDC_EDGE, IDC_FULL, IDC_EDGE]
    empty = {"height": np.empty(0), "width": np.empty(0)}
    assert slice_values(IDC_PATCH_SIZE_SLICE, empty).size == 0
