"""Proof that no patient (IDC) or id (WDBC) sits in two splits.

Hash partitioning should guarantee it, but a changed partition key, a re-split or a
hand-made split would not: a clinical pipeline checks rather than assumes. A leak is
recorded here and stops the run at the validation gate.
"""


import itertools

import tensorflow as tf
from tfx import v1 as tfx

from components import artifacts

_BATCH = 4096


def _partition_values(files: list[str], key: str) -> tuple[int, set[str]]:
    """(examples, distinct values of `key`) streamed from gzipped TFRecords."""
    if not files:
        return 0, set()
    records = tf.data.TFRecordDataset(files, compression_type="GZIP")
    first = next(iter(records.take(1)), None)
    if first is None:
        return 0, set()
    feature = tf.train.Example.FromString(first.numpy()).features.feature
    if key not in feature:
        raise KeyError(f"partition feature {key!r} is missing from the examples")
    dtype = tf.int64 if feature[key].WhichOneof("kind") == "int64_list" else tf.string
    spec = {key: tf.io.FixedLenFeature([], dtype)}
    count, values = 0, set()
    for batch in records.batch(_BATCH):
        parsed = tf.io.parse_example(batch, spec)[key].numpy()
        count += len(parsed)
        values.update(v.decode() if isinstance(v, bytes) else str(v) for v in parsed)
    return count, values


def check_splits(examples: tfx.dsl.Artifact, key: str) -> dict:
    splits = {
        name: _partition_values(artifacts.split_files(examples, name), key)
        for name in artifacts.split_names(examples)
    }
    overlaps = {
        f"{a}&{b}": sorted(splits[a][1] & splits[b][1])
        for a, b in itertools.combinations(sorted(splits), 2)
    }
    return {
        "partition_key": key,
        "splits": {
            name: {"examples": count, "partitions": len(values), "values": sorted(values)}
            for name, (count, values) in splits.items()
        },
        "overlaps": overlaps,
        "disjoint": not any(overlaps.values()),
    }


@tfx.dsl.components.component
def SplitCheck(
    examples: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.Examples],
    proof: tfx.dsl.components.OutputArtifact[artifacts.SplitProof],
    partition_key: tfx.dsl.components.Parameter[str],
) -> None:
    result = check_splits(examples, partition_key)
    artifacts.write_json(proof.uri, result)
    proof.set_int_custom_property("disjoint", int(result["disjoint"]))


def leaks(result: dict) -> dict[str, list[str]]:
    """Split pairs that share partitions, with the shared values."""
    return {pair: shared for pair, shared in result["overlaps"].items() if shared}
