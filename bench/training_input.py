"""Benchmark 2: examples per second from the Trainer's input function, against NumPy.

Subject: the IDC Trainer's input function (`components.training.dataset` over the Transform
output of a real `bcpipe run idc`, through the DataAccessor TFX builds for a Trainer) feeding
`fit` of the IDC model, built under the Trainer's distribution strategy. Baseline: the same
model and batch size fed from the same transformed train split held in NumPy arrays (what the
tutorials do). Each side is one `fit` of several epochs, as the Trainer runs; its first epoch
(tracing, the shuffle buffer filling) is a warm-up left out of the median epoch. The sides run
in turn, several times. Augmentation is left out of both: it is the same graph on either side
and not reading. The input function alone (no model) is recorded too, to tell reading from
training.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
from tfx.components.trainer import fn_args_utils
from tfx.types import artifact_utils

from bench import common, scale
from components import training
from components.idc import model as idc_model
from components.idc.preprocessing import PIXELS
from pipeline import config, metadata

# Quick: the fewest patches whose generated archive still gives the blessing split the
# positives the gate asks for (1,000 gave 44 of 50), so the run reaches Transform.
PATCHES, QUICK = 6_000, 1_500
TARGET = 0.9
PIPELINE = f"bcpipe-{config.IDC.name}"


class EpochTimes(tf.keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.seconds: list[float] = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)


def trainer_args(archive: Path, work: Path) -> fn_args_utils.FnArgs:
    """The Trainer's FnArgs over the transformed examples of a run on `archive` (cached
    when the run already happened)."""
    command = [str(Path(sys.executable).parent / "bcpipe"), "run", "idc", "--input", str(archive),
               "--work-dir", str(work), "--train-steps", "1"]
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    store = metadata.open_store(work / PIPELINE / "metadata.sqlite")
    nodes = metadata.node_runs(store, metadata.run_ids(store, PIPELINE)[-1])
    if "Transform" not in nodes or not nodes["Transform"].outputs:
        raise RuntimeError(f"the run made no Transform output:\n{done.stdout[-3000:]}")
    outputs = nodes["Transform"].outputs

    def tfx_artifacts(key: str) -> list:
        protos = outputs[key]
        kinds = {t.id: t for t in store.get_artifact_types_by_id([a.type_id for a in protos])}
        return [artifact_utils.deserialize_artifact(kinds[a.type_id], a) for a in protos]

    # Exactly what the Trainer's executor makes of its inputs.
    return fn_args_utils.get_common_fn_args(
        {"examples": tfx_artifacts("transformed_examples"),
         "transform_graph": tfx_artifacts("transform_graph")},
        {"train_args": "{}", "eval_args": "{}"},
    )


def in_memory(batches: tf.data.Dataset) -> tuple[np.ndarray, np.ndarray]:
    pixels, labels = [], []
    for features, label in batches:
        pixels.append(features[PIXELS].numpy())
        labels.append(label.numpy())
    return np.concatenate(pixels), np.concatenate(labels)


def median_epoch(fit, epochs: int) -> tuple[float, list[float]]:
    timer = EpochTimes()
    fit(epochs, timer)
    return statistics.median(timer.seconds[1:]), timer.seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--patches", type=int, default=PATCHES)
    parser.add_argument("--rounds", type=int, default=3, help="fits of each side, in turn")
    parser.add_argument("--epochs", type=int, default=4, help="epochs per fit, first not timed")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK} patches, 1 round, 2 epochs")
    args = parser.parse_args(argv)
    patches, rounds, epochs = (QUICK, 1, 2) if args.quick else (
        args.patches, args.rounds, args.epochs)
    fn_args = trainer_args(scale.archive(patches), common.WORK_DIR / f"training-input-{patches}")
    schema = tft.TFTransformOutput(fn_args.transform_graph_path).transformed_metadata.schema
    train_config = config.IDC.training
    batch = train_config.batch_size

    def input_fn(epochs_: int | None, shuffle: bool) -> tf.data.Dataset:
        return training.dataset(
            fn_args.train_files, fn_args.data_accessor, schema, label_key=config.IDC.label_key,
            batch_size=batch, num_epochs=epochs_, shuffle=shuffle, seed=train_config.seed,
        )

    pixels, labels = in_memory(input_fn(1, shuffle=False))
    steps = len(labels) // batch
    if steps < 1:
        raise SystemExit(f"{len(labels)} train examples: fewer than one batch of {batch}")
    pixels, labels = pixels[: steps * batch], labels[: steps * batch]

    strategy = idc_model.distribution()
    with strategy.scope():
        subject_model = idc_model.build_model(train_config)
        baseline_model = idc_model.build_model(train_config)
    stream = input_fn(None, shuffle=True)

    def fit_stream(n, timer):
        subject_model.fit(stream, steps_per_epoch=steps, epochs=n, callbacks=[timer], verbose=0)

    def fit_numpy(n, timer):
        baseline_model.fit({PIXELS: pixels}, labels, batch_size=batch, epochs=n, shuffle=True,
                           callbacks=[timer], verbose=0)

    stream_epochs, numpy_epochs, log = [], [], {"input_function": [], "numpy": []}
    for _ in range(rounds):
        median, seconds = median_epoch(fit_stream, epochs)
        stream_epochs.append(median)
        log["input_function"].append([round(s, 3) for s in seconds])
        median, seconds = median_epoch(fit_numpy, epochs)
        numpy_epochs.append(median)
        log["numpy"].append([round(s, 3) for s in seconds])

    examples = steps * batch
    start = time.perf_counter()
    for _ in input_fn(None, shuffle=True).take(steps * 2):
        pass
    reading_alone = 2 * examples / (time.perf_counter() - start)
    common.report(common.Result(
        name="training_input",
        value=examples / statistics.median(stream_epochs),
        baseline=examples / statistics.median(numpy_epochs),
        unit="examples/s",
        target=TARGET,
        details={
            "patches": patches,
            "train_examples_per_epoch": examples,
            "batch_size": batch,
            "steps_per_epoch": steps,
            "rounds": rounds,
            "epochs_per_fit": epochs,
            "epoch_seconds": log,
            "note": "epoch 0 of each fit is a warm-up, left out; no augmentation on either side",
            "strategy": type(strategy).__name__,
            "input_function_alone_examples_per_s": round(reading_alone, 1),
            "numpy_bytes": int(pixels.nbytes + labels.nbytes),
        },
    ))
    return 0


if __name__ == "__main__":
    sys.exit(main())
