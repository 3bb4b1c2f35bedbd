"""Proof that no patient (IDC) or id (WDBC) sits in two splits, and what each split holds.

Hash partitioning should guarantee it, but a changed partition key, a re-split or a
hand-made split would not: a clinical pipeline checks rather than assumes. A leak is
recorded here and stops the run at the validation gate. The same pass counts the patients
and examples with label 1 per split, which the gate needs to know a split can be trained,
tuned or blessed on.
"""


import itertools

import tensorflow as tf
from tfx import v1 as tfx

from components import artifacts

_BATCH = 4096


def _partitions(files: list[str], key: str, label_key: str) -> dict:
    """Examples, the distinct values of `key`, and how many of each carry label 1, streamed
    from gzipped TFRecords."""
    found = {"examples": 0, "values": set(), "positives": 0, "positive_values": set()}
    if not files:
        return found
    records = tf.data.TFRecordDataset(files, compression_type="GZIP")
    first = next(iter(records.take(1)), None)
    if first is None:
        return found
    feature = tf.train.Example.FromString(first.numpy()).features.feature
    if key not in feature:
        raise KeyError(f"partition feature {key!r} is missing from the examples")
    dtype = tf.int64 if feature[key].WhichOneof("kind") == "int64_list" else tf.string
    # A missing label is the anomalies' business; here it counts as not positive.
    spec = {key: tf.io.FixedLenFeature([], dtype),
            label_key: tf.io.FixedLenFeature([], tf.int64, default_value=-1)}
    for batch in records.batch(_BATCH):
        parsed = tf.io.parse_example(batch, spec)
        values = [v.decode() if isinstance(v, bytes) else str(v) for v in parsed[key].numpy()]
        positive = parsed[label_key].numpy() == 1
        found["examples"] += len(values)
        found["positives"] += int(positive.sum())
        found["values"].update(values)
        found["positive_values"].update(v for v, p in zip(values, positive, strict=True) if p)
    return found


def check_splits(examples: tfx.dsl.Artifact, key: str, label_key: str) -> dict:
    splits = {
        name: _partitions(artifacts.split_files(examples, name), key, label_key)
        for name in artifacts.split_names(examples)
    }
    overlaps = {
        f"{a}&{b}": sorted(splits[a]["values"] & splits[b]["values"])
        for a, b in itertools.combinations(sorted(splits), 2)
    }
    return {
        "partition_key": key,
        "label_key": label_key,
        "splits": {
            name: {"examples": s["examples"], "partitions": len(s["values"]),
                   "positives": s["positives"], "positive_partitions": len(s["positive_values"]),
                   "values": sorted(s["values"])}
            for name, s in splits.items()
        },
        "overlaps": overlaps,
        "disjoint": not any(overlaps.values()),
    }


@tfx.dsl.components.component
def SplitCheck(
    examples: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.Examples],
    proof: tfx.dsl.components.OutputArtifact[artifacts.SplitProof],
    partition_key: tfx.dsl.components.Parameter[str],
    label_key: tfx.dsl.components.Parameter[str],
) -> None:
    result = check_splits(examples, partition_key, label_key)
    artifacts.write_json(proof.uri, result)
    proof.set_int_custom_property("disjoint", int(result["disjoint"]))


def leaks(result: dict) -> dict[str, list[str]]:
    """Split pairs that share partitions, with the shared values."""
    return {pair: shared for pair, shared in result["overlaps"].items() if shared}
