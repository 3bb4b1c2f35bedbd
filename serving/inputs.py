"""What clients send: rows of the canonical WDBC CSV, IDC patch PNGs, as either signature's
inputs (the raw named inputs, or serialized tf.Examples for `serving_default`)."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tensorflow as tf

from pipeline.config import WDBC_FEATURES, WDBC_ID
from serving.input_checks import patch_problem

RAW, EXAMPLES = "raw", "examples"
SIGNATURES = {RAW: "serving_raw", EXAMPLES: "serving_default"}
EXAMPLES_INPUT = "examples"
IMAGE_INPUT = "image"


@dataclass(frozen=True)
class Batch:
    """Inputs for one model: `keys` name each row in the output (an id, a file name);
    `refused`, what was left out and why (key -> reason)."""

    key_name: str
    keys: list[str]
    raw: dict[str, np.ndarray]
    refused: dict[str, str] = field(default_factory=dict)

    def head(self, count: int) -> Batch:
        return self.rows(range(min(count, len(self.keys))))

    def rows(self, indices: Sequence[int]) -> Batch:
        indices = list(indices)
        return Batch(self.key_name, [self.keys[i] for i in indices],
                     {k: v[indices] for k, v in self.raw.items()})

    def request_inputs(self, signature: str) -> dict[str, np.ndarray]:
        if signature == RAW:
            return self.raw
        return {EXAMPLES_INPUT: np.array(self.examples(), dtype=object)}

    def examples(self) -> list[bytes]:
        """One serialized tf.Example per row, features named as the raw inputs."""
        serialized = []
        for i in range(len(self.keys)):
            features = {}
            for name, column in self.raw.items():
                value = column[i]
                if isinstance(value, bytes):
                    feature = tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))
                else:
                    feature = tf.train.Feature(float_list=tf.train.FloatList(value=[value]))
                features[name] = feature
            example = tf.train.Example(features=tf.train.Features(feature=features))
            serialized.append(example.SerializeToString())
        return serialized


def wdbc_csv(path: Path) -> Batch:
    """Rows of a canonical WDBC CSV (`id`, optional `diagnosis`, the 30 features)."""
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [f for f in WDBC_FEATURES if f not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(
                f"{path}: not a canonical WDBC CSV (missing columns "
                f"{', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''}); "
                "`bcpipe data import-wdbc` turns UCI's wdbc.data or a data.csv into one"
            )
        rows = list(reader)
    columns = {}
    for name in WDBC_FEATURES:
        try:
            columns[name] = np.array([float(row[name]) for row in rows], dtype=np.float32)
        except ValueError as err:
            raise ValueError(f"{path}: column {name}: {err}") from err
    keys = [row.get(WDBC_ID) or str(i + 1) for i, row in enumerate(rows)]
    for name, column in columns.items():
        # The served model refuses them too; this names the row before anything is sent.
        bad = np.flatnonzero(~np.isfinite(column))
        if bad.size:
            raise ValueError(f"{path}: {WDBC_ID} {keys[bad[0]]}, column {name}: "
                             f"{column[bad[0]]} is not a finite number")
    return Batch(WDBC_ID, keys, columns)


def png_files(paths: Sequence[Path]) -> Batch:
    """IDC patches as stored: the PNG bytes go to the model untouched; a file the model
    would refuse is left out with its reason, so the others are still answered."""
    keys, data, refused = [], [], {}
    for path in paths:
        content = path.read_bytes()
        problem = patch_problem(content)
        if problem is None:
            keys.append(str(path))
            data.append(content)
        else:
            refused[str(path)] = problem.text
    return Batch("file", keys, {IMAGE_INPUT: np.array(data, dtype=object)}, refused)
