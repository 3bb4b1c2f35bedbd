"""Runs a pipeline on this machine: LocalDagRunner, SQLite metadata, Beam DirectRunner.

Output stays readable: TF, Beam and Keras logs go to a log file under the work dir; the
terminal gets one line per component and a summary of the verdict.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import fcntl
import json
import logging
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from absl import logging as absl_logging

from pipeline import config, evaluation, exits, metadata
from pipeline.pipeline import create_pipeline
from pipeline.run_paths import RunPaths


@dataclass
class RunOutcome:
    exit_code: int
    run_id: str
    nodes: dict[str, metadata.NodeRun]
    error: BaseException | None
    log_file: Path


class _Progress(logging.Handler):
    """Turns the runner's own log lines into one terminal line per component."""

    def __init__(self, stream):
        super().__init__(logging.INFO)
        self.stream = stream
        self.started: dict[str, float] = {}
        self.cached: set[str] = set()
        self.skipped: set[str] = set()
        self.current: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        msg = record.msg if isinstance(record.msg, str) else ""
        if msg == "Component %s is running.":
            self.current = str(record.args[0])
            self.started[self.current] = time.monotonic()
            print(f"  {self.current:<18} running...", file=self.stream, flush=True)
        elif msg.startswith("A cached execution") and self.current:
            self.cached.add(self.current)
        elif msg == "Skipping execution for %s" and self.current:
            # Inputs that never came: only the gate's Cond holds a node's inputs back.
            self.skipped.add(self.current)
        elif msg == "Component %s is finished." and self.current:
            took = time.monotonic() - self.started[self.current]
            how = ("skipped (stopped at the gate)" if self.current in self.skipped
                   else "cached" if self.current in self.cached else f"done in {took:.1f}s")
            print(f"  {self.current:<18} {how}", file=self.stream, flush=True)


@contextlib.contextmanager
def _quiet(log_file: Path, stream):
    """Sends every library's logging and stdout to `log_file`; progress to `stream`."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    file_handler = logging.FileHandler(log_file)
    file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    progress = _Progress(stream)
    root.handlers = [file_handler, progress]
    root.setLevel(logging.INFO)
    # TensorFlow's logger prints to stderr on its own; route it through the root logger.
    libraries = [logging.getLogger(name) for name in ("tensorflow", "absl", "apache_beam")]
    saved_libraries = [(lg.handlers[:], lg.propagate, lg.level) for lg in libraries]
    for lg in libraries:
        lg.handlers, lg.propagate = [], True
        lg.setLevel(logging.INFO)
    # TF's SavedModel code resets absl's logger to absl's verbosity flag (WARNING unless
    # set), which would mute the runner's progress lines after the first export.
    saved_verbosity = absl_logging.get_verbosity()
    absl_logging.set_verbosity(absl_logging.INFO)
    logging.captureWarnings(True)
    try:
        with (
            open(log_file, "a") as sink,
            contextlib.redirect_stdout(sink),
            contextlib.redirect_stderr(sink),
        ):
            yield
    finally:
        root.handlers, level = saved
        root.setLevel(level)
        absl_logging.set_verbosity(saved_verbosity)
        for lg, (handlers, propagate, level) in zip(libraries, saved_libraries, strict=True):
            lg.handlers, lg.propagate = handlers, propagate
            lg.setLevel(level)
        file_handler.close()


@contextlib.contextmanager
def _exclusive(paths: RunPaths):
    """One run at a time per pipeline root: two would share its metadata store and
    push destination, and each could read the other's results back as its own. The lock
    is the kernel's, so a killed run leaves nothing to clean up."""
    paths.root.mkdir(parents=True, exist_ok=True)
    with open(paths.lock, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "?"
            raise exits.Refused(
                f"another run of {paths.pipeline_name} (pid {holder}) is using {paths.root}; "
                "wait for it to finish or give another --work-dir"
            ) from None
        handle.truncate(0)
        handle.write(str(os.getpid()))
        handle.flush()
        yield


@contextlib.contextmanager
def _noting_interrupts():
    """Yields a list that is non-empty once SIGINT arrived. TF turns the KeyboardInterrupt
    raised inside its ops into a RuntimeError, so the exception alone cannot say."""
    noted: list[int] = []

    def interrupt(signum, frame):
        noted.append(signum)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, interrupt)
    try:
        yield noted
    finally:
        signal.signal(signal.SIGINT, previous)


def _run_as(pipeline, run_id: str) -> None:
    """LocalDagRunner names a run by the time it starts it, which its caller cannot know;
    bound beforehand, the run id is what reads this run back, and only this run."""
    from tfx import v1 as tfx
    from tfx.dsl.compiler import constants
    from tfx.orchestration.portable import runtime_parameter_utils

    class Runner(tfx.orchestration.LocalDagRunner):
        def run_with_ir(self, ir, run_options=None):
            runtime_parameter_utils.substitute_runtime_parameter(
                ir, {constants.PIPELINE_RUN_ID_PARAMETER_NAME: run_id}
            )
            return super().run_with_ir(ir, run_options)

    Runner().run(pipeline)


def _verdict(nodes: dict[str, metadata.NodeRun]) -> dict | None:
    from components import artifacts

    gate = nodes.get("ValidationGate")
    if gate is None or not gate.outputs.get("verdict"):
        return None
    return artifacts.read_json(gate.outputs["verdict"][0].uri)


def _exit_code(error: BaseException | None, nodes: dict[str, metadata.NodeRun]) -> int:
    if error is not None:
        return exits.EXIT_FAILURE
    verdict = _verdict(nodes)
    if verdict is not None and not verdict["passed"]:
        return exits.EXIT_REJECTED
    pusher = nodes.get("Pusher")
    if pusher is None or not pusher.outputs.get("pushed_model"):
        return exits.EXIT_FAILURE
    pushed = metadata.custom_int(pusher.outputs["pushed_model"][0], "pushed")
    return exits.EXIT_OK if pushed else exits.EXIT_NOT_BLESSED


def run_pipeline(
    profile: config.Profile,
    *,
    data_root: Path,
    paths: RunPaths,
    train_steps: int | None = None,
    enable_cache: bool = True,
    beam_args: list[str] | None = None,
    stream=None,
) -> RunOutcome:
    from serving.loadable import latest_servable_version

    stream = stream or sys.stdout
    with _exclusive(paths):
        serving_model_dir = paths.serving_model_dir(profile)
        started = datetime.datetime.now()
        run_id = started.isoformat()
        log_file = paths.logs / f"run-{started:%Y%m%d-%H%M%S}.log"
        error = None
        with _quiet(log_file, stream), _noting_interrupts() as interrupted:
            # Inside: trying the served versions is a load, which TF reports at length.
            served = latest_servable_version(str(serving_model_dir)) or 0
            pipeline = create_pipeline(
                profile=profile,
                pipeline_name=paths.pipeline_name,
                pipeline_root=str(paths.pipeline_root.resolve()),
                data_root=str(data_root.resolve()),
                serving_model_dir=str(serving_model_dir.resolve()),
                served_version=served,
                train_steps=train_steps or profile.training.train_steps,
                beam_pipeline_args=list(beam_args or config.BEAM.direct_args()),
                metadata_connection_config=metadata.sqlite_config(paths.metadata_path),
                enable_cache=enable_cache,
            )
            # TFX's Beam executors parse sys.argv as absl flags; the host's own arguments
            # (bcpipe's, or pytest's `-v -p ...`) must not reach them.
            argv, sys.argv = sys.argv, sys.argv[:1]
            try:
                _run_as(pipeline, run_id)
            except BaseException as err:  # noqa: BLE001 - every failure is reported, then mapped
                logging.exception("pipeline run failed")
                error = err
            finally:
                sys.argv = argv
        store = metadata.open_store(paths.metadata_path)
        known = run_id in metadata.run_ids(store, paths.pipeline_name)
        nodes = metadata.node_runs(store, run_id) if known else {}
        code = exits.EXIT_INTERRUPTED if interrupted else _exit_code(error, nodes)
        return RunOutcome(code, run_id, nodes, error, log_file)


_INGESTION_LABELS = {
    "patches_kept": "patches kept",
    "small_kept": "of them smaller than 50x50",
    "patients": "patients",
    "mirror_skipped": "mirror copies skipped",
    "empty_skipped": "empty files skipped",
    "undecodable_skipped": "undecodable files skipped",
    "oversized_skipped": "larger than 50x50 skipped",
    "not_8bit_skipped": "not 8-bit skipped",
    "unreadable_skipped": "unreadable files skipped",
    "class_mismatch_skipped": "class mismatches skipped",
    "stray_ignored": "stray files ignored",
}


def _ingestion(nodes: dict[str, metadata.NodeRun]) -> list[str]:
    """The IDC ExampleGen's counts, when this pipeline has them."""
    gen = next((n for name, n in nodes.items() if name.endswith("ExampleGen")), None)
    if gen is None or not gen.outputs.get("examples"):
        return []
    examples = gen.outputs["examples"][0]
    if "patches_kept" not in examples.custom_properties:
        return []
    counts = [f"{label} {metadata.custom_int(examples, key)}"
              for key, label in _INGESTION_LABELS.items()]
    lines = ["  ingestion: " + ", ".join(counts)]
    strays = json.loads(metadata.custom_str(examples, "stray_folders") or "[]")
    if strays:
        lines.append("  folders not read as patients (a patient folder is named by its id's "
                     f"digits alone): {', '.join(map(repr, strays))}")
    return lines


def _evidence(nodes: dict[str, metadata.NodeRun]) -> str:
    """How many patients and positives the blessing split's figures rest on."""
    from components.cohort import describe_evidence

    return describe_evidence(_verdict(nodes)["blessing_evidence"])


def summary(profile: config.Profile, outcome: RunOutcome, paths: RunPaths) -> str:
    lines = [f"run {outcome.run_id} of {paths.pipeline_name}"]
    executed = [n for n, r in outcome.nodes.items() if r.state == "COMPLETE"]
    cached = [n for n, r in outcome.nodes.items() if r.state == "CACHED"]
    lines.append(f"  executed: {len(executed)}, from cache: {len(cached)}")
    lines += _ingestion(outcome.nodes)
    if outcome.exit_code == exits.EXIT_REJECTED:
        from components.validation_gate import describe

        lines.append("DATA REJECTED: the run stopped before Transform; nothing was pushed.")
        lines.append(describe(_verdict(outcome.nodes)))
    elif outcome.exit_code == exits.EXIT_INTERRUPTED:
        lines.append("INTERRUPTED: the same command again resumes from the components that "
                     "finished.")
    elif outcome.error is not None:
        last = str(outcome.error).strip().splitlines()[-1:] or [""]
        lines.append(f"FAILED: {type(outcome.error).__name__}: {last[0]} (details in the log)")
    evaluator = outcome.nodes.get("Evaluator")
    if evaluator and evaluator.outputs.get("evaluation"):
        uri = evaluator.outputs["evaluation"][0].uri
        blessed = metadata.custom_int(evaluator.outputs["blessing"][0], "blessed")
        verdict = "BLESSED" if blessed else "NOT BLESSED"
        lines.append(f"model {verdict} on the {profile.blessing_split} split, "
                     f"{_evidence(outcome.nodes)}:")
        lines += [f"  {check.describe()}" for check in evaluation.threshold_checks(profile, uri)]
        baseline_auc = evaluation.baseline_value(uri, "probability", "auc")
        lines.append(
            "  baseline: none served yet (change threshold not applied)"
            if baseline_auc is None
            else f"  baseline (served model) auc {baseline_auc:.4f}"
        )
    pusher = outcome.nodes.get("Pusher")
    if pusher and pusher.outputs.get("pushed_model"):
        pushed = pusher.outputs["pushed_model"][0]
        if metadata.custom_int(pushed, "pushed"):
            fresh = metadata.custom_int(pushed, "newly_pushed")
            where = metadata.custom_str(pushed, "pushed_destination")
            lines.append(f"pushed: {where}" + ("" if fresh else " (already served, unchanged)"))
        else:
            lines.append("not pushed")
    lines.append(f"artifacts: {paths.pipeline_root}")
    lines.append(f"metadata:  {paths.metadata_path}")
    lines.append(f"log:       {outcome.log_file}")
    html = report_html(outcome)
    if html:
        lines.append(f"report:    {html}")
    return "\n".join(lines)


def report_html(outcome: RunOutcome) -> str | None:
    """The review report's HTML page, when the run wrote one."""
    report = outcome.nodes.get("ReviewReport")
    if report and report.outputs.get("report"):
        return metadata.custom_str(report.outputs["report"][0], "html")
    return None


def main(args: argparse.Namespace) -> int:
    profile = config.profile(args.pipeline)
    if args.train_steps is not None and args.train_steps < 1:
        raise exits.UsageError("--train-steps must be at least 1")
    if args.splits:
        names = [name for name, _ in profile.split_buckets]
        profile = dataclasses.replace(
            profile, split_buckets=tuple(zip(names, args.splits, strict=True)))
    if args.input is None and not config.default_data_root(profile).is_dir():
        raise exits.UsageError(
            f"--input is required for {profile.name}: no data of it is bundled; generate an "
            f"archive with `bcpipe data synth-idc DIR`, or give the real one"
        )
    data_root = args.input or config.default_data_root(profile)
    if not data_root.is_dir():
        raise exits.UsageError(f"--input {data_root}: not a directory")
    if profile.name == config.WDBC.name:
        from components.wdbc.importer import data_root_problem

        problem = data_root_problem(data_root)
        if problem:
            raise exits.UsageError(f"--input {problem}")
    paths = RunPaths(
        work_dir=args.work_dir,
        pipeline_name=f"bcpipe-{profile.name}",
        serving_base=args.serving_base or args.work_dir / "serving",
    )
    print(f"bcpipe run {profile.name}: data {data_root}")
    outcome = run_pipeline(
        profile, data_root=data_root, paths=paths, train_steps=args.train_steps,
        enable_cache=not args.no_cache,
    )
    print(summary(profile, outcome, paths))
    if outcome.exit_code == exits.EXIT_INTERRUPTED:
        # What TF's objects say as the interpreter tears them down belongs in the log.
        sys.stderr = open(outcome.log_file, "a")  # noqa: SIM115 - open until the process ends
    return outcome.exit_code

