"""`bcpipe serve`, `bcpipe predict` and `bcpipe serving-config`."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import socket
import ssl
import sys
import threading
from pathlib import Path
from typing import TextIO

import grpc

from pipeline.config import SERVING
from pipeline.exits import EXIT_FAILURE, EXIT_OK, EXIT_REJECTED, Refused, UsageError
from serving import inputs
from serving.client import ServingClient, ServingUnavailable
from serving.server import ModelServer
from serving.serving_config import write_serving_config
from serving.version_manager import VersionManager

LISTENING = "bcpipe serve: gRPC on"


def listening_address(stdout: TextIO) -> str | None:
    """HOST:PORT from the output of a starting `bcpipe serve`, or None if it ended first."""
    for line in stdout:
        if line.startswith(LISTENING):
            return line.split()[len(LISTENING.split())]
    return None


def _tls_pair(cert: Path, key: Path) -> tuple[bytes, bytes]:
    """(key, certificate) once they are known to belong together: gRPC would say so only
    in its own log, after every model had loaded."""
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key)
    except ssl.SSLError as err:
        raise UsageError(
            f"--tls-cert {cert} and --tls-key {key} are not a PEM certificate and its own "
            f"key ({err.reason or err})"
        ) from None
    return key.read_bytes(), cert.read_bytes()


def _check_port(host: str, port: int) -> None:
    """Refuses a port something already listens on before the models load, not after."""
    if port == 0:
        return
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gRPC binds
        try:
            probe.bind((host, port))
        except OSError as err:
            raise Refused(f"cannot listen on {host}:{port}: {err.strerror}; "
                          "stop what listens there or give another --port") from None


def serve(args: argparse.Namespace) -> int:
    if (args.tls_cert is None) != (args.tls_key is None):
        raise UsageError("give --tls-cert and --tls-key together")
    tls = None if args.tls_cert is None else _tls_pair(args.tls_cert, args.tls_key)
    _check_port(args.host, args.port)
    if args.model_base is not None and not args.model_base.is_dir():
        print(f"bcpipe serve: --model-base {args.model_base} does not exist (yet); "
              "serving what appears there", file=sys.stderr)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # The server's own lines say what loads; TF's INFO lines ("Restoring parameters") would
    # come twice, through its own handler and the root's.
    logging.getLogger("tensorflow").setLevel(logging.WARNING)
    # TF shares one intra-op pool per process, sized by the first session, unless this is set
    # before that session: without it SERVING.session_threads could not differ per model.
    os.environ.setdefault("TF_OVERRIDE_GLOBAL_THREADPOOL", "1")
    store = VersionManager(
        model_base=str(args.model_base) if args.model_base else None,
        models_config=str(args.models_config) if args.models_config else None,
        warmup_iterations=SERVING.warmup_iterations,
        session_threads=dict(SERVING.session_threads),
    )
    store.poll()
    server = ModelServer(store, host=args.host, port=args.port, tls=tls)
    port = server.start()
    store.start(args.poll_seconds)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    models = ", ".join(store.model_names()) or "none yet"
    print(f"{LISTENING} {args.host}:{port} (models: {models})", flush=True)
    while not stop.wait(1.0):
        pass
    print("bcpipe serve: stopping, letting running requests finish", flush=True)
    server.stop()
    return EXIT_OK


def predict(args: argparse.Namespace) -> int:
    try:
        batch = inputs.wdbc_csv(args.csv) if args.csv else inputs.png_files(args.png)
    except (OSError, ValueError) as err:
        print(f"bcpipe: refused input: {err}", file=sys.stderr)
        return EXIT_REJECTED
    for key, problem in batch.refused.items():
        print(f"bcpipe: refused {key}: {problem}", file=sys.stderr)
    if not batch.keys:
        return EXIT_REJECTED
    with ServingClient(args.server, ca_cert=args.ca_cert, timeout=args.timeout) as client:
        try:
            result = client.predict(
                args.model,
                batch.request_inputs(args.signature),
                signature=inputs.SIGNATURES[args.signature],
                version=args.version,
                version_label=args.version_label,
            )
        except ServingUnavailable as err:
            print(f"bcpipe: {err}", file=sys.stderr)
            return EXIT_FAILURE
        except grpc.RpcError as err:
            print(f"bcpipe: {args.server}: {err.code().name}: {err.details()}", file=sys.stderr)
            return EXIT_FAILURE
    for key, probability, label, version in zip(
        batch.keys,
        result.outputs["probability"],
        result.outputs["label"],
        result.versions,
        strict=True,
    ):
        line = {
            batch.key_name: key,
            "model": args.model,
            "version": int(version),
            "probability": float(probability),
            "label": int(label),
        }
        print(json.dumps(line))
    return EXIT_REJECTED if batch.refused else EXIT_OK


def serving_config(args: argparse.Namespace) -> int:
    written = write_serving_config(args.out, args.model_base, args.local_base)
    for path in written.values():
        print(path)
    return EXIT_OK
