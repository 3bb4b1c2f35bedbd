"""Benchmark 5: Predict over gRPC through `bcpipe serve` against the same SavedModel
signature called in this process.

The models are real pushes: WDBC from `bcpipe run wdbc` with a short training (run once
under bench/work/serving-run and reused), and idc_patch when bench/scale.py's tenth-scale run
has pushed one (with patches from its archive). The server runs as a process of its own,
as deployed; the benchmark waits until GetModelStatus says AVAILABLE.

Both sides start from the same numpy inputs and end with numpy outputs: the gRPC side
through `ServingClient.predict` (request building and answer decoding included), the
in-process side through `tf.saved_model.load(...).signatures[...]` on `tf.constant` inputs.
The two are called alternately, request by request, so that background load falls on both
alike. Measured per model and signature (`serving_raw`, `serving_default`):
- latency at batch 1 over sequential requests after a warmup: p50 and p99;
- throughput at batch 64 over sequential requests from one caller (the headline), and from
  several concurrent callers (one channel each; in-process: one thread each) in details.
Results: `serving_latency` (ratio = gRPC p50 minus in-process p50 in ms, target <= 1) and
`serving_throughput` (gRPC examples/s over in-process, target >= 0.8); each headline is the
worst model and signature measured, every one is in details.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bench import common

RUN_DIR = common.WORK_DIR / "serving-run"
MODEL_BASE = common.WORK_DIR / "serving-models"
# What bench/scale.py's tenth-scale run pushed, and the archive it trained on.
IDC_PUSHED = common.WORK_DIR / "scale-27752" / "serving" / "idc_patch"
IDC_ARCHIVE = common.WORK_DIR / "idc-27752"
WDBC_TRAIN_STEPS = 50
SIGNATURES = ("serving_raw", "serving_default")
LATENCY_TARGET_MS = 1.0
THROUGHPUT_TARGET = 0.8
BATCH = 64
CLIENTS = 4
SIZES = {
    # (warmup requests, batch-1 requests, batch-64 requests)
    False: (50, 1000, 200),
    True: (5, 40, 8),
}
_TF_ENV = {"TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}


def _env() -> dict[str, str]:
    return {**os.environ, **_TF_ENV}


def pushed_wdbc() -> Path:
    """The latest WDBC version the benchmark's own pipeline run pushed; the run is made
    once (a short training: the model's quality does not matter here, its graph does)."""
    from serving import layout

    model_dir = RUN_DIR / "serving" / "wdbc"
    if layout.latest_version(str(model_dir)) is None:
        done = subprocess.run(
            [sys.executable, "-m", "pipeline.cli", "run", "wdbc", "--work-dir", str(RUN_DIR),
             "--serving-base", str(RUN_DIR / "serving"),
             "--train-steps", str(WDBC_TRAIN_STEPS)],
            env=_env(), capture_output=True, text=True,
        )
        version = layout.latest_version(str(model_dir))
        if version is None:
            raise RuntimeError(f"bcpipe run wdbc pushed nothing:\n{done.stdout[-3000:]}"
                               f"\n{done.stderr[-3000:]}")
    return Path(layout.version_dir(str(model_dir), layout.latest_version(str(model_dir))))


def pushed_idc() -> Path | None:
    from serving import layout

    version = layout.latest_version(str(IDC_PUSHED))
    if version is None or not IDC_ARCHIVE.is_dir():
        return None
    return Path(layout.version_dir(str(IDC_PUSHED), version))


def serve_from(pushed: dict[str, Path]) -> Path:
    """A model base of its own holding each pushed version (as version 1): what another
    run pushes later cannot change what is measured."""
    from components.model_files import copy_tree

    shutil.rmtree(MODEL_BASE, ignore_errors=True)
    for model, version_dir in pushed.items():
        copy_tree(str(version_dir), str(MODEL_BASE / model / "1"))
    return MODEL_BASE


def model_inputs(model: str, rows: int):
    """`rows` rows of real inputs for `model` as a `serving.inputs.Batch`."""
    import tensorflow as tf

    from pipeline.config import DATA_DIR
    from serving import inputs

    if model == "wdbc":
        batch = inputs.wdbc_csv(DATA_DIR / "wdbc" / "span-1" / "wdbc.csv")
        return batch.rows([i % len(batch.keys) for i in range(rows)])
    patches = []
    # The archive keeps a few broken files on purpose; only decodable patches are sent.
    for path in sorted(IDC_ARCHIVE.glob("*/*/*.png")):
        try:
            tf.io.decode_png(path.read_bytes())
        except (tf.errors.InvalidArgumentError, ValueError):
            continue
        patches.append(path)
        if len(patches) == rows:
            break
    return inputs.png_files(patches)


class Server:
    """`bcpipe serve` in a process of its own, on a port the OS chooses."""

    def __init__(self, model_base: Path, models: list[str], log: Path):
        from serving.client import ServingClient
        from serving.commands import listening_address

        self._log = log.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "pipeline.cli", "serve", "--model-base", str(model_base),
             "--host", "127.0.0.1", "--port", "0", "--poll-seconds", "60"],
            stdout=subprocess.PIPE, stderr=self._log, text=True, env=_env(),
        )
        address = listening_address(self.process.stdout)
        if address is None:
            self.stop()
            raise RuntimeError(f"bcpipe serve did not start; see {log}")
        self.address = address
        with ServingClient(self.address) as client:
            for model in models:
                client.wait_until_available(model, 1, timeout=300)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


def percentiles_ms(seconds: list[float]) -> dict[str, float]:
    ms = np.asarray(seconds) * 1000
    return {"p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99)),
            "mean_ms": float(ms.mean()), "requests": int(ms.size)}


def alternate(
    grpc_call: Callable[[dict], object], local_call: Callable[[dict], object],
    requests: list[dict], warmup: int,
) -> tuple[list[float], list[float]]:
    """Seconds per request of each side, the two called one after the other per request."""
    for request in requests[:warmup]:
        grpc_call(request)
        local_call(request)
    grpc_times, local_times = [], []
    for request in requests:
        start = time.perf_counter()
        grpc_call(request)
        middle = time.perf_counter()
        local_call(request)
        grpc_times.append(middle - start)
        local_times.append(time.perf_counter() - middle)
    return grpc_times, local_times


def concurrent(make_call: Callable[[], Callable[[dict], object]], requests: list[dict],
               clients: int) -> float:
    """Examples per second with `clients` callers sharing `requests` between them."""
    calls = [make_call() for _ in range(clients)]
    barrier = threading.Barrier(clients + 1)

    def work(call, share):
        barrier.wait()
        for request in share:
            call(request)

    threads = [threading.Thread(target=work, args=(call, requests[i::clients]))
               for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    barrier.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    return sum(len(next(iter(r.values()))) for r in requests) / elapsed


def round_trip_floor(address: str, model: str, requests: int) -> dict[str, float]:
    """GetModelStatus latency: the transport's share of any call, with no model run."""
    from serving.client import ServingClient

    with ServingClient(address) as client:
        times = []
        for _ in range(requests):
            start = time.perf_counter()
            client.status(model)
            times.append(time.perf_counter() - start)
    return percentiles_ms(times)


def measure(address: str, model: str, version_dir: Path, sizes: tuple[int, int, int]) -> dict:
    """Latency and throughput of one model, per signature, gRPC and in-process."""
    import tensorflow as tf

    from serving import inputs
    from serving.client import ServingClient

    warmup, single, batched = sizes
    loaded = tf.saved_model.load(str(version_dir), tags=["serve"])
    rows = model_inputs(model, max(single, BATCH * 4))
    kinds = {"serving_raw": inputs.RAW, "serving_default": inputs.EXAMPLES}
    results, clients = {}, []
    for signature in SIGNATURES:
        function = loaded.signatures[signature]

        def local_call(request, function=function):
            outputs = function(**{k: tf.constant(v) for k, v in request.items()})
            return {k: v.numpy() for k, v in outputs.items()}

        def grpc_caller(signature=signature):
            client = ServingClient(address)
            clients.append(client)
            return lambda request: client.predict(model, request, signature=signature).outputs

        kind = kinds[signature]
        one = [rows.rows([i % len(rows.keys)]).request_inputs(kind) for i in range(single)]
        starts = [(i * BATCH) % (len(rows.keys) - BATCH + 1) for i in range(batched)]
        many = [rows.rows(range(s, s + BATCH)).request_inputs(kind) for s in starts]
        grpc_call = grpc_caller()
        first_grpc, first_local = grpc_call(one[0]), local_call(one[0])
        if not np.allclose(first_grpc["probability"], first_local["probability"], atol=1e-6):
            raise RuntimeError(f"{model} {signature}: the server and the model disagree")
        grpc_1, local_1 = alternate(grpc_call, local_call, one, warmup)
        grpc_64, local_64 = alternate(grpc_call, local_call, many, min(warmup, batched))
        grpc_latency, local_latency = percentiles_ms(grpc_1), percentiles_ms(local_1)
        examples = BATCH * len(many)
        results[signature] = {
            "latency_grpc": grpc_latency,
            "latency_in_process": local_latency,
            "latency_difference_ms": grpc_latency["p50_ms"] - local_latency["p50_ms"],
            "throughput_grpc": examples / sum(grpc_64),
            "throughput_in_process": examples / sum(local_64),
            "throughput_batch64_p50_ms": {"grpc": percentiles_ms(grpc_64)["p50_ms"],
                                          "in_process": percentiles_ms(local_64)["p50_ms"]},
            f"throughput_grpc_{CLIENTS}_clients": concurrent(grpc_caller, many, CLIENTS),
            f"throughput_in_process_{CLIENTS}_threads": concurrent(
                lambda local_call=local_call: local_call, many, CLIENTS),
        }
        results[signature]["throughput_ratio"] = (
            results[signature]["throughput_grpc"] / results[signature]["throughput_in_process"]
        )
    for client in clients:
        client.close()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few requests: a smoke test")
    args = parser.parse_args(argv)
    os.environ.update(_TF_ENV)
    sizes = SIZES[args.quick]

    pushed = {"wdbc": pushed_wdbc()}
    idc = pushed_idc()
    if idc is not None:
        pushed["idc_patch"] = idc
    model_base = serve_from(pushed)
    common.WORK_DIR.mkdir(parents=True, exist_ok=True)
    server = Server(model_base, list(pushed), common.WORK_DIR / "serving-server.log")
    try:
        floor = round_trip_floor(server.address, "wdbc", sizes[1])
        measured = {model: measure(server.address, model, model_base / model / "1", sizes)
                    for model in pushed}
    finally:
        server.stop()

    cases = [(m, s, r) for m, by_signature in measured.items() for s, r in by_signature.items()]
    shared = {
        "models": {m: str(p) for m, p in pushed.items()},
        "idc_patch": "measured" if idc else f"skipped: nothing pushed under {IDC_PUSHED}",
        "server": "bcpipe serve in its own process on 127.0.0.1",
        "requests": {"warmup": sizes[0], "batch_1": sizes[1], "batch_64": sizes[2]},
        "get_model_status_round_trip": floor,
        "measured": measured,
    }
    model, signature, worst = max(cases, key=lambda c: c[2]["latency_difference_ms"])
    common.report(common.Result(
        name="serving_latency",
        value=worst["latency_grpc"]["p50_ms"],
        baseline=worst["latency_in_process"]["p50_ms"],
        unit="ms p50 at batch 1 (gRPC vs in-process; ratio = difference in ms)",
        target=LATENCY_TARGET_MS,
        higher_is_better=False,
        ratio=worst["latency_difference_ms"],
        details={
            **shared,
            "headline": f"{model} {signature} (largest difference)",
            "p99_ms": {"grpc": worst["latency_grpc"]["p99_ms"],
                       "in_process": worst["latency_in_process"]["p99_ms"]},
        },
    ))
    model, signature, worst = min(cases, key=lambda c: c[2]["throughput_ratio"])
    common.report(common.Result(
        name="serving_throughput",
        value=worst["throughput_grpc"],
        baseline=worst["throughput_in_process"],
        unit=f"examples/s at batch {BATCH}, one caller (gRPC vs in-process)",
        target=THROUGHPUT_TARGET,
        details={
            **shared,
            "headline": f"{model} {signature} (lowest ratio), one sequential caller",
            "concurrent": {
                f"grpc_{CLIENTS}_clients": worst[f"throughput_grpc_{CLIENTS}_clients"],
                f"in_process_{CLIENTS}_threads": worst[f"throughput_in_process_{CLIENTS}_threads"],
            },
        },
    ))
    return 0


if __name__ == "__main__":
    sys.exit(main())
