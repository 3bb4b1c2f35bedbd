"""Benchmark 1: patches per second through the IDC ExampleGen, against a plain loop.

Subject: IdcExampleGen alone in a TFX pipeline on LocalDagRunner with the local runs' Beam
arguments (DirectRunner), configured as `create_pipeline` configures it: driver, Beam
executor and metadata, timed end to end. Baseline: one Python loop over the same walk
(`top_level`, `list_entry`) and the same per-file rules (`read_patch`), writing the same
tf.Examples to one gzip TFRecord. Both read the same generated archive; each side runs
several times, alternating, after one untimed run each (imports, page cache); medians.
Both must have written the same examples and counted the same quirks.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

import tensorflow as tf

from bench import common, scale
from components.idc import example_gen
from pipeline import config, metadata

FULL, QUICK = scale.SMALL, 500
TARGET = 0.5
PIPELINE_NAME = "bench-ingestion"


def run_example_gen(archive: Path, work: Path) -> tuple[float, str]:
    """(wall seconds, Examples artifact URI) of the component run as the pipeline runs it."""
    from tfx import v1 as tfx

    # The pipeline's own ExampleGen node, with the input and split configs it runs with.
    from pipeline.pipeline import _example_gen

    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    pipeline = tfx.dsl.Pipeline(
        pipeline_name=PIPELINE_NAME,
        pipeline_root=str(work / "artifacts"),
        components=[_example_gen(config.IDC, str(archive))],
        metadata_connection_config=metadata.sqlite_config(work / "metadata.sqlite"),
        beam_pipeline_args=config.BEAM.direct_args(),
        enable_cache=False,
    )
    # TFX's Beam executors parse sys.argv as absl flags; this process's own must not reach them.
    argv, sys.argv = sys.argv, sys.argv[:1]
    try:
        start = time.monotonic()
        tfx.orchestration.LocalDagRunner().run(pipeline)
        wall = time.monotonic() - start
    finally:
        sys.argv = argv
    store = metadata.open_store(work / "metadata.sqlite")
    nodes = metadata.node_runs(store, metadata.run_ids(store, PIPELINE_NAME)[-1])
    return wall, next(iter(nodes.values())).outputs["examples"][0].uri


def run_loop(archive: Path, out: Path) -> tuple[float, dict]:
    """(wall seconds, ingestion counts) of the plain loop, writing to `out`."""
    out.parent.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    counts: Counter[str] = Counter()
    entries = example_gen.top_level(str(archive))
    with tf.io.TFRecordWriter(str(out), options="GZIP") as writer:
        for entry in entries:
            for kind, path in example_gen.list_entry(entry):
                keys, example = example_gen.read_patch(kind, path)
                counts.update(keys)
                if example is not None:
                    writer.write(example.SerializeToString())
    summary = example_gen.summarise(counts)
    summary[example_gen.STRAY_FOLDERS] = example_gen.stray_folders(entries)
    return time.monotonic() - start, summary


def fingerprints(files: list[str]) -> Counter[bytes]:
    """Each example's digest (serialized deterministically), with multiplicity."""
    digests: Counter[bytes] = Counter()
    for record in tf.data.TFRecordDataset(files, compression_type="GZIP").as_numpy_iterator():
        example = tf.train.Example.FromString(record)
        digests[hashlib.sha1(example.SerializeToString(deterministic=True)).digest()] += 1
    return digests


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--patches", type=int, default=FULL)
    parser.add_argument("--rounds", type=int, default=5, help="timed runs of each side")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK} patches, 2 rounds")
    args = parser.parse_args(argv)
    patches, rounds = (QUICK, 2) if args.quick else (args.patches, args.rounds)
    archive = scale.archive(patches)
    work = common.WORK_DIR / f"ingestion-{patches}"
    loop_file = work / "loop" / "examples.tfrecord.gz"

    # Round 0 warms both up and is not counted; the sides alternate so contention hits both.
    gen_times, loop_times = [], []
    for _ in range(rounds + 1):
        gen_wall, uri = run_example_gen(archive, work / "example_gen")
        loop_wall, loop_counts = run_loop(archive, loop_file)
        gen_times.append(gen_wall)
        loop_times.append(loop_wall)

    gen_counts = example_gen.read_counts(uri)
    gen_files = tf.io.gfile.glob(f"{uri}/Split-*/*")
    gen_examples, loop_examples = fingerprints(gen_files), fingerprints([str(loop_file)])
    kept = gen_counts["patches_kept"]
    gen_rate = kept / statistics.median(gen_times[1:])
    loop_rate = loop_counts["patches_kept"] / statistics.median(loop_times[1:])
    shutil.rmtree(work, ignore_errors=True)
    common.report(common.Result(
        name="ingestion",
        value=gen_rate,
        baseline=loop_rate,
        unit="patches/s",
        target=TARGET,
        details={
            "archive": str(archive),
            "patches_kept": kept,
            "rounds": rounds,
            "example_gen_seconds": [round(t, 4) for t in gen_times],
            "loop_seconds": [round(t, 4) for t in loop_times],
            "note": "round 0 of each side is a warm-up, left out of the medians",
            "beam_args": config.BEAM.direct_args(),
            "example_gen_examples": sum(gen_examples.values()),
            "loop_examples": sum(loop_examples.values()),
            "same_examples": gen_examples == loop_examples,
            "same_counts": gen_counts == loop_counts,
            "counts": {k: v for k, v in gen_counts.items() if k != "patches_per_patient"},
        },
    ))
    return 0


if __name__ == "__main__":
    sys.exit(main())
