"""`bcpipe submit`: compile, upload the pipeline (or a new version of it), start a run.

The API token comes from the environment ($KFP_TOKEN) and never from the command line,
where every user of the machine could read it (ps) and the shell history would keep it.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import logging
import os
import tempfile
import time
import warnings
from pathlib import Path

from pipeline import config, exits
from pipeline.kubeflow_gate import REFUSAL
from pipeline.kubeflow_runner import (
    DATA_ROOT,
    SERVING_MODEL_DIR,
    check_location,
    compile_from_args,
    pipeline_name,
    profile_from_args,
    read_package,
)

SUCCEEDED, FAILED = "SUCCEEDED", "FAILED"
# A run's final states (backend/api/v2beta1/run.proto, RuntimeState). kfp 2.5's own
# wait_for_run_completion knows no CANCELED and would wait out its timeout on one.
FINAL_STATES = (SUCCEEDED, "SKIPPED", FAILED, "CANCELED")


def declared_parameters(package: Path) -> dict:
    """Run-time parameters of a compiled package: name -> ParameterSpec."""
    spec, _ = read_package(package)
    return dict(spec.root.input_definitions.parameters)


def parse_params(pairs: list[str], declared: dict, profile: config.Profile) -> dict:
    """KEY=VALUE pairs as the API expects them, checked against what the pipeline takes."""
    from kfp.pipeline_spec import pipeline_spec_pb2 as pb

    numeric = {
        pb.ParameterType.NUMBER_INTEGER: int,
        pb.ParameterType.NUMBER_DOUBLE: float,
    }
    params = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise exits.UsageError(f"--param {pair!r}: expected KEY=VALUE")
        if key not in declared:
            raise exits.UsageError(f"--param {key}: the pipeline takes {', '.join(sorted(declared))}")
        convert = numeric.get(declared[key].parameter_type, str)
        try:
            params[key] = convert(value)
        except ValueError:
            raise exits.UsageError(f"--param {key}={value}: not a {convert.__name__}") from None
        if key == DATA_ROOT:
            check_location(f"--param {key}", value)
        elif key == SERVING_MODEL_DIR:
            check_location(f"--param {key}", value, volume=profile.serving_volume.mounted)
    return params


def make_client(host: str):
    import kfp

    # It warns, on every start, that it needs KFP v2; this command is for KFP v2.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return kfp.Client(host=host,
                          existing_token=os.environ.get(config.KUBEFLOW.token_env) or None)


def upload(client, package: Path, name: str) -> tuple[str, str]:
    """Uploads `package` as pipeline `name`, or as a new version of it; (pipeline, version) ids."""
    pipeline_id = client.get_pipeline_id(name)
    if pipeline_id is None:
        pipeline_id = client.upload_pipeline(str(package), pipeline_name=name).pipeline_id
        versions = client.list_pipeline_versions(pipeline_id, sort_by="created_at desc")
        return pipeline_id, versions.pipeline_versions[0].pipeline_version_id
    digest = hashlib.sha256(package.read_bytes()).hexdigest()[:12]
    version_name = f"{name}-{time.strftime('%Y%m%d-%H%M%S')}-{digest}"
    version = client.upload_pipeline_version(
        str(package), version_name, pipeline_id=pipeline_id
    )
    return pipeline_id, version.pipeline_version_id


@contextlib.contextmanager
def _answering(host: str):
    """A host that does not answer, or answers no, in one line rather than the HTTP
    library's frames."""
    import urllib3
    from kfp_server_api.exceptions import ApiException

    # Its retries each log a warning; what they came to is told once, below.
    logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)
    try:
        yield
    except urllib3.exceptions.HTTPError as err:
        reason = str(getattr(err, "reason", None) or err).split(">: ")[-1]
        raise exits.Refused(f"--host {host} does not answer: {reason}") from None
    except ApiException as err:
        raise exits.Refused(f"--host {host} answered {err.status} {err.reason}") from None


def main(args: argparse.Namespace) -> int:
    with _answering(args.host):
        return _submit(args)


def _submit(args: argparse.Namespace) -> int:
    profile = profile_from_args(args)
    name = pipeline_name(profile)
    with tempfile.TemporaryDirectory() as tmp:
        package = compile_from_args(args, out_dir=Path(tmp), target="kfp")
        params = parse_params(args.param, declared_parameters(package), profile)
        client = make_client(args.host)
        pipeline_id, version_id = upload(client, package, name)
    experiment = client.create_experiment(args.experiment or config.KUBEFLOW.default_experiment)
    run = client.run_pipeline(
        experiment.experiment_id,
        args.run_name or f"{name}-{time.strftime('%Y%m%d-%H%M%S')}",
        pipeline_id=pipeline_id,
        version_id=version_id,
        params=params,
        # The backend never reads the spec's defaultPipelineRoot (only the UI pre-fills from
        # it): without this a run writes under the kfp-launcher ConfigMap's root instead,
        # minio:// on a stock install, which TensorFlow cannot open.
        pipeline_root=args.pipeline_root,
        service_account=args.service_account,
    )
    print(f"started run {run.run_id} of {name} (version {version_id})")
    if not args.wait:
        return exits.EXIT_OK
    return wait(client, run.run_id)


def wait(client, run_id: str) -> int:
    """Polls the run until it ends: 0 if it succeeded; 3 if its gate refused the span (the
    GateRefusal task failed, after the review report), as the local run's exit 3; 1 if
    anything else failed or it was cancelled."""
    k = config.KUBEFLOW
    deadline = time.monotonic() + k.wait_timeout_seconds
    while (run := client.get_run(run_id)).state not in FINAL_STATES:
        if time.monotonic() > deadline:
            raise exits.Refused(f"run {run_id} still {run.state} after "
                                f"{k.wait_timeout_seconds} s; it goes on without us")
        time.sleep(k.wait_poll_seconds)
    error = getattr(run.error, "message", None)
    print(f"run {run_id}: {run.state}" + (f": {error}" if error else ""))
    if run.state == SUCCEEDED:
        return exits.EXIT_OK
    if run.state == FAILED and refused(run):
        print(f"the gate refused the span: {REFUSAL} failed after the review report was "
              "written; the run page shows the report and the gate's reasons")
        return exits.EXIT_REJECTED
    return exits.EXIT_FAILURE


def refused(run) -> bool:
    """Whether the run's failed task is the gate's refusal. A v2beta1 run lists its tasks
    (run_details.task_details) by their Argo node's display name (api_converter.go
    toApiPipelineTaskDetail: DisplayName = the task's name, from util/workflow.go
    NodeStatuses), which is the spec's task name (argocompiler/dag.go names each DAG task so)."""
    details = getattr(run, "run_details", None)
    tasks = getattr(details, "task_details", None) or []
    return any(t.display_name == REFUSAL and t.state == FAILED for t in tasks)
