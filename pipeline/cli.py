"""`bcpipe`: the one command-line entry point.

Exit codes (pipeline/exits.py): 0 done (model pushed), 1 failure, 2 usage error, 3 data
rejected by validation, 4 model not blessed, 130 interrupted. An ordinary mistake or situation
is told in one line, never as a traceback. Heavy modules are imported inside the handlers
so `--help` is instant.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

from pipeline.config import SERVING
from pipeline.exits import (  # noqa: F401 - the codes are the CLI's contract; tests read them here
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_NOT_BLESSED,
    EXIT_OK,
    EXIT_REJECTED,
    EXIT_USAGE,
    Refused,
    UsageError,
)

# Must precede any TensorFlow import; the Makefile and the image set it too.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
# 3: TF's C++ start-up chatter (duplicate CUDA plugin registrations) is not an error here.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# Google client libraries warn about Python 3.10 on import; the stack pins 3.10 on purpose.
warnings.filterwarnings("ignore", category=FutureWarning, module=r"google\.")

DEFAULT_WORK_DIR = Path("runs")


def _data_import_wdbc(args: argparse.Namespace) -> int:
    from components.wdbc.importer import WdbcFormatError, import_wdbc

    if args.sklearn == (args.src is not None):
        raise UsageError("give either SRC or --sklearn")
    try:
        result = import_wdbc(args.src, args.into, sklearn=args.sklearn)
    except (WdbcFormatError, FileNotFoundError) as err:
        print(f"bcpipe: refused {args.src or 'scikit-learn copy'}: {err}", file=sys.stderr)
        return EXIT_REJECTED
    print(
        f"imported {result.rows} rows ({result.malignant} malignant) from the "
        f"{result.layout} layout as span {result.span}: {result.path}"
    )
    return EXIT_OK


def _data_synth_idc(args: argparse.Namespace) -> int:
    from components.idc.synth import main

    return main(args)


def _run(args: argparse.Namespace) -> int:
    from pipeline.local_runner import main

    return main(args)


def _demo(args: argparse.Namespace) -> int:
    from pipeline.demo import main

    return main(args)


def _review(name: str):
    def handler(args: argparse.Namespace) -> int:
        from pipeline import review

        return getattr(review, name)(args)

    return handler


def _serving(name: str):
    def handler(args: argparse.Namespace) -> int:
        if name == "serve":
            # Before serving.commands imports grpc, which reads it then.
            os.environ.setdefault("GRPC_EXPERIMENTS", SERVING.grpc_experiments)
        elif name == "predict":
            # gRPC's own log lines (each handshake it retries) would repeat what the one
            # line of `predict`'s error says.
            os.environ.setdefault("GRPC_VERBOSITY", "NONE")
        from serving import commands

        return getattr(commands, name)(args)

    return handler


def _kubeflow(module: str):
    def handler(args: argparse.Namespace) -> int:
        from importlib import import_module

        return import_module(f"pipeline.{module}").main(args)

    return handler


def existing_file(text: str) -> Path:
    """An argument naming a file that must be there to be read."""
    path = Path(text)
    if not path.is_file():
        raise argparse.ArgumentTypeError(
            f"{text}: {'a directory, not a file' if path.is_dir() else 'no such file'}")
    return path


def folder(text: str) -> Path:
    """An argument naming a folder to write into: made if missing, never a file."""
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: a file, not a folder")
    return path


def non_empty(text: str) -> str:
    """An argument that means nothing empty (an image, a root, a base path)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return text


def positive_seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: not a number of seconds") from None
    if not seconds > 0:
        raise argparse.ArgumentTypeError(f"{text}: must be more than 0 seconds")
    return seconds


def server_address(text: str) -> str:
    """HOST:PORT; a bare host gets TF Serving's gRPC port, not gRPC's default of 443."""
    text = non_empty(text)
    host, colon, port = text.rpartition(":")
    if colon and port.isdigit() and not text.endswith("]"):
        return text
    return f"{text}:{SERVING.port}"


def beam_flag(text: str) -> str:
    """One Beam pipeline option as Beam reads it: `--flag` or `--flag=value`."""
    if not text.startswith("--") or len(text) < 3:
        raise argparse.ArgumentTypeError(f"{text!r}: a Beam option starts with --, e.g. "
                                         "--beam-arg=--project=my-project")
    return text


def _compile_arguments(parser: argparse.ArgumentParser) -> None:
    """What `compile kubeflow` and `submit` both need to build the pipeline package."""
    from pipeline.config import BEAM_RUNNERS

    parser.add_argument("--pipeline", choices=["wdbc", "idc"], required=True)
    parser.add_argument("--image", type=non_empty, required=True,
                        help="pipeline image the pods run")
    parser.add_argument("--pipeline-root", type=non_empty, required=True,
                        help="artifact root: a gs:// URI (s3:// and minio:// cannot work: "
                             "TensorFlow 2.16 has no such file system)")
    parser.add_argument("--data-root", help="default: PIPELINE_ROOT/data/PIPELINE")
    parser.add_argument("--serving-base", help="push destination; default: PIPELINE_ROOT/serving")
    parser.add_argument("--beam-runner", choices=BEAM_RUNNERS, default="direct")
    parser.add_argument(
        "--beam-arg", type=beam_flag, action="append", default=[], metavar="--FLAG=VALUE",
        help="extra Beam argument (repeatable), e.g. --beam-arg=--project=my-project",
    )
    parser.add_argument("--train-steps", type=int, help="override the configured steps")
    parser.add_argument(
        "--cluster-config", type=existing_file, metavar="FILE",
        help="YAML: the Trainer's CPU, memory, GPUs and node placement, the Beam steps' CPU "
             "and memory, staging room, for this cluster (see pipeline/cluster.py)",
    )


def split_proportions(text: str) -> tuple[int, int, int]:
    """`--splits 6,2,2`: three positive integers, train, eval and test."""
    parts = text.split(",")
    if len(parts) != 3 or not all(p.strip().isdigit() and int(p) > 0 for p in parts):
        raise argparse.ArgumentTypeError(
            f"{text!r}: give three positive integers for train, eval and test, e.g. 6,2,2")
    return tuple(int(p) for p in parts)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bcpipe", description="Breast-cancer classification pipelines (TFX)."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    data = sub.add_parser("data", help="bring data in").add_subparsers(
        dest="data_command", required=True, metavar="DATA_COMMAND"
    )
    wdbc = data.add_parser("import-wdbc", help="normalise a WDBC file into a new span")
    wdbc.add_argument("src", nargs="?", type=existing_file, help="wdbc.data or data.csv")
    wdbc.add_argument("--into", type=folder, required=True, help="data root; spans go below")
    wdbc.add_argument("--sklearn", action="store_true", help="use scikit-learn's copy")
    wdbc.set_defaults(command_parser=wdbc, handler=_data_import_wdbc)

    synth = data.add_parser("synth-idc", help="write an IDC-shaped archive with its quirks")
    synth.add_argument("out", type=folder)
    synth.add_argument("--patients", type=int, default=20)
    synth.add_argument("--per-patient", type=int, default=100)
    synth.add_argument("--total", type=int,
                       help="this many patches spread unevenly over the patients "
                            "(instead of --per-patient)")
    synth.add_argument("--seed", type=int, default=0)
    synth.set_defaults(command_parser=synth, handler=_data_synth_idc)

    run = sub.add_parser("run", help="run a pipeline on this machine (LocalDagRunner)")
    run.add_argument("pipeline", choices=["wdbc", "idc"])
    run.add_argument("--input", type=Path,
                     help="data root (default: the bundled data, WDBC only; for IDC see "
                          "`bcpipe data synth-idc`)")
    run.add_argument("--work-dir", type=Path, default=DEFAULT_WORK_DIR)
    run.add_argument("--serving-base", type=Path, help="default: WORK_DIR/serving")
    run.add_argument("--train-steps", type=int, help="override the configured steps")
    run.add_argument("--splits", type=split_proportions, metavar="TRAIN,EVAL,TEST",
                     help="proportions of the splits, e.g. 6,2,2 (default: the profile's)")
    run.add_argument("--no-cache", action="store_true", help="execute every component")
    run.set_defaults(command_parser=run, handler=_run)

    demo = sub.add_parser("demo", help="run everything on the bundled data")
    demo.add_argument("--work-dir", type=Path, default=DEFAULT_WORK_DIR)
    demo.set_defaults(command_parser=demo, handler=_demo)

    report = sub.add_parser("report", help="render a run's review report again")
    report.add_argument("--pipeline", required=True, choices=["wdbc", "idc"])
    report.add_argument("--work-dir", type=Path, default=DEFAULT_WORK_DIR)
    report.add_argument("--run", default="latest", help="a run id, or latest")
    report.add_argument("--out", type=folder, required=True, help="directory to write into")
    report.set_defaults(command_parser=report, handler=_review("report_main"))

    lineage = sub.add_parser("lineage", help="trace a pushed model back to its data")
    lineage.add_argument("--model", required=True, help="served model name, e.g. wdbc")
    lineage.add_argument("--version", type=int, required=True)
    lineage.add_argument("--work-dir", type=Path, default=DEFAULT_WORK_DIR)
    lineage.add_argument("--serving-base", type=Path, help="default: WORK_DIR/serving")
    lineage.add_argument("--json", action="store_true", help="machine-readable output")
    lineage.set_defaults(command_parser=lineage, handler=_review("lineage_main"))

    serve = sub.add_parser("serve", help="serve pushed models over TF Serving's gRPC API")
    models = serve.add_mutually_exclusive_group(required=True)
    models.add_argument("--model-base", type=Path, help="one model per sub-directory")
    models.add_argument("--models-config", type=existing_file, help="a TF Serving models.config")
    serve.add_argument("--host", default="0.0.0.0")
    serve.add_argument("--port", type=int, default=SERVING.port, help="0: any free port")
    serve.add_argument("--poll-seconds", type=float, default=SERVING.poll_seconds)
    serve.add_argument("--tls-cert", type=existing_file, help="PEM server certificate (with --tls-key)")
    serve.add_argument("--tls-key", type=existing_file)
    serve.set_defaults(command_parser=serve, handler=_serving("serve"))

    predict = sub.add_parser("predict", help="query a TF Serving endpoint")
    predict.add_argument("--server", type=server_address, required=True,
                         help=f"HOST:PORT (HOST alone: port {SERVING.port})")
    predict.add_argument("--model", required=True)
    pin = predict.add_mutually_exclusive_group()
    pin.add_argument("--version", type=int)
    pin.add_argument("--version-label")
    source = predict.add_mutually_exclusive_group(required=True)
    source.add_argument("--csv", type=existing_file, help="canonical WDBC CSV")
    source.add_argument("--png", type=existing_file, nargs="+", help="IDC patches")
    predict.add_argument("--signature", choices=["raw", "examples"], default="raw")
    predict.add_argument("--timeout", type=positive_seconds,
                         default=SERVING.client_timeout_seconds)
    predict.add_argument("--ca-cert", type=existing_file, help="PEM CA certificate: use TLS")
    predict.set_defaults(command_parser=predict, handler=_serving("predict"))

    config = sub.add_parser("serving-config", help="write TF Serving's config files")
    config.add_argument("--model-base", type=non_empty, required=True,
                        help="path as the server sees it")
    config.add_argument("--local-base", help="where to read pushed versions (default: model base)")
    config.add_argument("--out", type=folder, required=True)
    config.set_defaults(command_parser=config, handler=_serving("serving_config"))

    compile_ = sub.add_parser("compile", help="compile a pipeline for an orchestrator")
    targets = compile_.add_subparsers(dest="compile_target", required=True, metavar="TARGET")
    kubeflow = targets.add_parser("kubeflow", help="Kubeflow Pipelines v2 (or Vertex AI)")
    _compile_arguments(kubeflow)
    kubeflow.add_argument("--out", type=folder, required=True, help="directory for the package")
    kubeflow.add_argument("--target", choices=["kfp", "vertex"], default="kfp")
    kubeflow.set_defaults(command_parser=kubeflow, handler=_kubeflow("kubeflow_runner"))

    submit = sub.add_parser(
        "submit", help="compile, upload (or add a version) and start a run on Kubeflow Pipelines",
        epilog="The API token, if the endpoint needs one, is read from $KFP_TOKEN.",
    )
    submit.add_argument("--host", required=True, help="KFP API endpoint URL")
    _compile_arguments(submit)
    submit.add_argument("--experiment", help="default: bcpipe")
    submit.add_argument("--run-name", help="default: PIPELINE-<time>")
    submit.add_argument("--service-account",
                        help="Kubernetes service account of the run's pods, e.g. "
                             "bcpipe-pipeline-runner (kubernetes/pipeline-runs); default: KFP's")
    submit.add_argument(
        "--param", action="append", default=[], metavar="KEY=VALUE",
        help="run-time parameter (repeatable): data_root, serving_model_dir",
    )
    submit.add_argument(
        "--wait", action="store_true", help="wait for the run; exit 0 only if it succeeded"
    )
    submit.set_defaults(command_parser=submit, handler=_kubeflow("kubeflow_submit"))
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except UsageError as err:
        args.command_parser.error(str(err))
    except BrokenPipeError:
        # The reader stopped reading (`| head`): it had what it wanted. Python would
        # report the same pipe again when it flushes stdout on the way out.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except Refused as err:
        print(f"bcpipe: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("bcpipe: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
