"""The end of `make demo`: serve the pushed models, query each through gRPC, stop.

Each model is asked for its metadata, then answers the given sample rows through both
signatures and Classify (the three must agree to 1e-6), or, with no samples, replays its
own warmup requests. Any disagreement or failed call makes the exit code 1.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path

import grpc
import numpy as np
import tensorflow as tf

from pipeline.exits import EXIT_FAILURE, EXIT_OK
from serving import inputs, warmup
from serving.client import ServingClient, ServingUnavailable
from serving.server import ModelServer
from serving.version_manager import VersionManager

TOLERANCE = 1e-6


def _query_samples(
    client: ServingClient, model: str, batch: inputs.Batch, out: Callable[[str], None]
) -> list[str]:
    raw = client.predict(model, batch.request_inputs(inputs.RAW), signature="serving_raw")
    by_examples = client.predict(model, batch.request_inputs(inputs.EXAMPLES))
    examples = [tf.train.Example.FromString(e) for e in batch.examples()]
    classified = client.classify(model, examples)
    probability = raw.outputs["probability"]
    problems = []
    if not np.allclose(by_examples.outputs["probability"], probability, rtol=0, atol=TOLERANCE):
        problems.append(f"{model}: serving_raw and serving_default disagree")
    scores = np.array([classes[1][1] for classes in classified.classes], np.float32)
    if not np.allclose(scores, probability, rtol=0, atol=TOLERANCE):
        problems.append(f"{model}: Classify disagrees with Predict")
    for key, p, label, version in zip(
        batch.keys, probability, raw.outputs["label"], raw.versions, strict=True
    ):
        row = {batch.key_name: key, "model": model, "version": int(version)}
        out(json.dumps({**row, "probability": round(float(p), 6), "label": int(label)}))
    return problems


def _replay_warmup(
    client: ServingClient, model: str, version_dir: str, out: Callable[[str], None]
) -> list[str]:
    records = warmup.read_warmup(version_dir)
    for record in records:
        client.call("Predict", record.predict_log.request)
    out(f"{model}: {len(records)} warmup requests answered")
    return [] if records else [f"{model}: no warmup records and no samples to query"]


def run(
    model_base: Path,
    samples: Mapping[str, inputs.Batch] | None = None,
    out: Callable[[str], None] = print,
) -> int:
    """Serves `model_base` on a free local port, queries every model, stops the server."""
    store = VersionManager(model_base=str(model_base))
    store.poll()
    models = store.model_names()
    if not models:
        out(f"no models under {model_base}")
        return EXIT_FAILURE
    server = ModelServer(store, host="127.0.0.1", port=0)
    address = f"127.0.0.1:{server.start()}"
    out(f"== bcpipe serve on {address}: {', '.join(models)}")
    problems = []
    try:
        with ServingClient(address) as client:
            for model in models:
                try:
                    version, signature_defs = client.metadata(model)
                    listed = ", ".join(s for s in sorted(signature_defs) if not s.startswith("__"))
                    out(f"{model} version {version}: signatures {listed}")
                    if samples and model in samples:
                        problems += _query_samples(client, model, samples[model], out)
                    else:
                        version_dir = str(model_base / model / str(version))
                        problems += _replay_warmup(client, model, version_dir, out)
                except (grpc.RpcError, ServingUnavailable) as err:
                    problems.append(f"{model}: {err}")
    finally:
        server.stop(grace=1.0)
    for problem in problems:
        out(f"PROBLEM {problem}")
    out(f"== server stopped; {len(models)} models queried, {len(problems)} problems")
    return EXIT_FAILURE if problems else EXIT_OK
