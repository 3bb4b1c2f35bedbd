"""A profile's SQL slices computed as TFMA computes them: the same `slice_keys_sql`, run
by tfx_bsl over a record batch of the features, wrapped as TFMA's SqlSliceKeyExtractor
wraps it. The report's per-slice rows are then the Evaluator's slices."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from tfx_bsl.arrow import sql_util

from pipeline.config import SqlSlice

_QUERY = "SELECT ARRAY({}) AS slice_key FROM Examples AS example"


def _list_column(values: np.ndarray) -> pa.ListArray:
    """One value per example, as the one-element lists tf.Example features decode to."""
    offsets = pa.array(np.arange(len(values) + 1, dtype=np.int32))
    return pa.ListArray.from_arrays(offsets, pa.array(values))


def slice_values(spec: SqlSlice, columns: dict[str, np.ndarray]) -> np.ndarray:
    """Each example's value of `spec` (None where the query gives none) from its features,
    one value per example each."""
    batch = pa.RecordBatch.from_arrays(
        [_list_column(columns[f]) for f in spec.features], list(spec.features)
    )
    if not batch.num_rows:
        return np.empty(0, dtype=object)
    rows = sql_util.RecordBatchSQLSliceQuery(_QUERY.format(spec.sql), batch.schema).Execute(batch)
    found = np.full(batch.num_rows, None, dtype=object)
    for i, slice_keys in enumerate(rows):
        for slice_key in slice_keys:
            (key, value), = slice_key
            if key == spec.key:
                found[i] = value
    return found
