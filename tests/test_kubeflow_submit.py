"""`bcpipe submit` against a local stand-in for the KFP v2beta1 REST API.

The stand-in records every request kfp.Client sends and answers as the API server does,
including its checks on an uploaded package (schema 2.1.0, strict parse of the pipeline
and platform documents: backend/src/apiserver/template/v2_template.go) and on a run's
parameters. Paths and JSON are the backend's (backend/api/v2beta1/swagger/run.swagger.json,
RuntimeConfig and RuntimeState in backend/api/v2beta1/run.proto; the upload handlers in
backend/src/apiserver/main.go, KFP 2.17). It is not a cluster: it shows what bcpipe sends
and how it reads the answers.
"""

from __future__ import annotations

import dataclasses
import email.parser
import itertools
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest
import yaml
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2 as pb

from pipeline import cli, config
from pipeline.kubeflow_runner import DATA_ROOT, SERVING_MODEL_DIR

IMAGE = "registry.example/bcpipe:1.0"
ROOT = "gs://bcpipe-test/root"
TOKEN = "t0ken-from-the-environment"
API = "/apis/v2beta1"


@dataclass
class Call:
    method: str
    path: str
    query: dict
    headers: dict  # lower-case names
    body: bytes


@dataclass
class FakeKfp:
    url: str = ""
    final_state: str = "SUCCEEDED"
    failed_task: str = "GateRefusal"
    # States a run passes through before final_state, one a GET.
    states: list = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    pipelines: dict = field(default_factory=dict)  # id -> display name
    versions: dict = field(default_factory=dict)  # id -> (pipeline id, PipelineSpec)
    experiments: dict = field(default_factory=dict)  # id -> display name
    runs: dict = field(default_factory=dict)  # id -> request body
    ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    def of(self, method: str, path: str) -> list[Call]:
        return [c for c in self.calls if (c.method, c.path) == (method, path)]


def _named(filter_json: str) -> str:
    (predicate,) = json.loads(filter_json)["predicates"]
    assert predicate["key"] == "display_name"
    return predicate["stringValue"]


def _package(call: Call) -> pb.PipelineSpec:
    """The uploaded file, checked as the API server checks it."""
    message = email.parser.BytesParser().parsebytes(
        f"Content-Type: {call.headers['content-type']}\r\n\r\n".encode() + call.body
    )
    (part,) = [
        p for p in message.get_payload()
        if p.get_param("name", header="content-disposition") == "uploadfile"
    ]
    documents = [d for d in yaml.safe_load_all(part.get_payload(decode=True)) if d]
    spec = json_format.ParseDict(documents[0], pb.PipelineSpec())
    for document in documents[1:]:
        json_format.ParseDict(document, pb.PlatformSpec())
    if spec.schema_version != "2.1.0":
        raise ValueError(f"KFP only supports schema version 2.1.0, got {spec.schema_version}")
    return spec


def _answer(fake: FakeKfp, call: Call) -> tuple[int, dict]:
    route = (call.method, call.path)
    one = {k: v[0] for k, v in call.query.items()}
    if route == ("GET", f"{API}/healthz"):
        return 200, {"multi_user": False}
    if route == ("GET", f"{API}/pipelines"):
        name = _named(one["filter"])
        found = [
            {"pipeline_id": i, "display_name": n} for i, n in fake.pipelines.items() if n == name
        ]
        return 200, {"pipelines": found, "total_size": len(found)}
    if route in (("POST", f"{API}/pipelines/upload"), ("POST", f"{API}/pipelines/upload_version")):
        try:
            spec = _package(call)
        except (ValueError, json_format.ParseError) as err:
            return 400, {"error": str(err)}
        if route[1].endswith("/upload"):
            pipeline_id = f"p{next(fake.ids)}"
            fake.pipelines[pipeline_id] = one["name"]
        else:
            pipeline_id = one["pipelineid"]
        version_id = f"v{next(fake.ids)}"
        fake.versions[version_id] = (pipeline_id, spec)
        if route[1].endswith("/upload"):
            return 200, {"pipeline_id": pipeline_id, "display_name": one["name"]}
        return 200, {"pipeline_id": pipeline_id, "pipeline_version_id": version_id}
    if call.method == "GET" and call.path.endswith("/versions"):
        pipeline_id = call.path.split("/")[-2]
        found = [
            {"pipeline_id": p, "pipeline_version_id": v}
            for v, (p, _) in reversed(fake.versions.items()) if p == pipeline_id
        ]
        return 200, {"pipeline_versions": found, "total_size": len(found)}
    if route == ("GET", f"{API}/experiments"):
        name = _named(one["filter"])
        found = [
            {"experiment_id": i, "display_name": n}
            for i, n in fake.experiments.items() if n == name
        ]
        return 200, {"experiments": found, "total_size": len(found)}
    if route == ("POST", f"{API}/experiments"):
        experiment_id = f"e{next(fake.ids)}"
        fake.experiments[experiment_id] = json.loads(call.body)["display_name"]
        return 200, {"experiment_id": experiment_id, **json.loads(call.body)}
    if route == ("POST", f"{API}/runs"):
        body = json.loads(call.body)
        _, spec = fake.versions[body["pipeline_version_reference"]["pipeline_version_id"]]
        declared = spec.root.input_definitions.parameters
        unknown = set(body["runtime_config"].get("parameters", {})) - set(declared)
        if unknown:
            return 400, {"error": f"unknown parameters {sorted(unknown)}"}
        run_id = f"r{next(fake.ids)}"
        fake.runs[run_id] = body
        return 200, {"run_id": run_id, "state": "PENDING", **body}
    if call.method == "GET" and call.path.startswith(f"{API}/runs/"):
        state = fake.states.pop(0) if fake.states else fake.final_state
        run = {"run_id": call.path.rsplit("/", 1)[-1], "state": state}
        if state == "FAILED":
            run["error"] = {"code": 2, "message": f"task {fake.failed_task!r} failed"}
            # As the backend lists them: one entry per Argo node, display name = task name.
            run["run_details"] = {"task_details": [
                {"display_name": "ReviewReport", "state": "SUCCEEDED"},
                {"display_name": f"{fake.failed_task}-driver", "state": "SUCCEEDED"},
                {"display_name": fake.failed_task, "state": "FAILED"},
            ]}
        return 200, run
    return 404, {"error": f"no route {route}"}


@pytest.fixture
def kfp_api(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))  # kfp.Client reads ~/.config/kfp/context.json
    fake = FakeKfp()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self):
            url = urlparse(self.path)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k.lower(): v for k, v in self.headers.items()}
            call = Call(self.command, url.path, parse_qs(url.query), headers, body)
            fake.calls.append(call)
            status, payload = _answer(fake, call)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _serve

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield fake
    server.shutdown()
    server.server_close()


def submit(fake: FakeKfp, *extra: str) -> int:
    return cli.main([
        "submit", "--host", fake.url, "--pipeline", "wdbc", "--image", IMAGE,
        "--pipeline-root", ROOT, *extra,
    ])


def test_first_submit_uploads_the_pipeline_and_starts_a_run(kfp_api, monkeypatch):
    monkeypatch.setenv("KFP_TOKEN", TOKEN)
    code = submit(
        kfp_api, "--experiment", "nightly", "--run-name", "first",
        "--param", f"{DATA_ROOT}=gs://elsewhere/wdbc", "--wait",
    )
    assert code == cli.EXIT_OK
    assert all(c.headers.get("authorization") == f"Bearer {TOKEN}" for c in kfp_api.calls)
    (upload,) = kfp_api.of("POST", f"{API}/pipelines/upload")
    assert upload.query["name"] == ["bcpipe-wdbc"]
    assert not kfp_api.of("POST", f"{API}/pipelines/upload_version")
    (version_id, (pipeline_id, spec)), = kfp_api.versions.items()
    assert spec.pipeline_info.name == "bcpipe-wdbc"
    (run,) = kfp_api.runs.values()
    assert run["display_name"] == "first"
    assert kfp_api.experiments[run["experiment_id"]] == "nightly"
    assert run["pipeline_version_reference"] == {
        "pipeline_id": pipeline_id, "pipeline_version_id": version_id,
    }
    assert run["runtime_config"] == {
        "parameters": {DATA_ROOT: "gs://elsewhere/wdbc"},
        # The backend never reads the spec's defaultPipelineRoot: a run without this writes
        # under the kfp-launcher ConfigMap's root.
        "pipeline_root": ROOT,
    }
    assert "service_account" not in run  # KFP's default unless given
    assert kfp_api.of("GET", f"{API}/runs/{next(iter(kfp_api.runs))}")  # --wait polled it


def test_the_run_gets_the_service_account_given(kfp_api):
    assert submit(kfp_api, "--service-account", "bcpipe-pipeline-runner") == cli.EXIT_OK
    (run,) = kfp_api.runs.values()
    assert run["service_account"] == "bcpipe-pipeline-runner"


def test_next_submit_adds_a_version_and_reuses_the_experiment(kfp_api, monkeypatch):
    monkeypatch.setenv("KFP_TOKEN", TOKEN)
    assert submit(kfp_api) == cli.EXIT_OK
    assert submit(kfp_api) == cli.EXIT_OK
    (version_upload,) = kfp_api.of("POST", f"{API}/pipelines/upload_version")
    (pipeline_id,) = kfp_api.pipelines
    assert version_upload.query["pipelineid"] == [pipeline_id]
    first, second = kfp_api.runs.values()
    assert first["pipeline_version_reference"] != second["pipeline_version_reference"]
    assert second["pipeline_version_reference"]["pipeline_version_id"] == list(kfp_api.versions)[-1]
    assert len(kfp_api.experiments) == 1 and first["experiment_id"] == second["experiment_id"]


def test_waiting_ends_with_the_runs_state(kfp_api, monkeypatch, capsys):
    monkeypatch.setattr(config, "KUBEFLOW", dataclasses.replace(config.KUBEFLOW,
                                                                wait_poll_seconds=0))
    kfp_api.final_state = "FAILED"
    assert submit(kfp_api) == cli.EXIT_OK  # not waiting: started is all it says
    # A span rejected at the gate fails its run (after its review report): exit 3, as the
    # local run's.
    kfp_api.states = ["PENDING", "RUNNING", "RUNNING"]
    assert submit(kfp_api, "--wait") == cli.EXIT_REJECTED
    run_id = list(kfp_api.runs)[-1]
    assert len(kfp_api.of("GET", f"{API}/runs/{run_id}")) == 4
    assert f"run {run_id}: FAILED: task 'GateRefusal' failed" in capsys.readouterr().out
    # Any other failed step is a failure, not a refusal.
    kfp_api.failed_task = "Trainer"
    assert submit(kfp_api, "--wait") == cli.EXIT_FAILURE
    assert "FAILED: task 'Trainer' failed" in capsys.readouterr().out
    kfp_api.final_state = "CANCELED"  # kfp 2.5's own wait would poll it until its timeout
    assert submit(kfp_api, "--wait") == cli.EXIT_FAILURE
    kfp_api.final_state = "SUCCEEDED"
    assert submit(kfp_api, "--wait") == cli.EXIT_OK


def test_without_a_token_no_credentials_are_sent(kfp_api, monkeypatch):
    monkeypatch.delenv("KFP_TOKEN", raising=False)
    assert submit(kfp_api) == cli.EXIT_OK
    assert kfp_api.calls and not any("authorization" in c.headers for c in kfp_api.calls)


@pytest.mark.parametrize(
    "bad",
    [["--param", "epochs=3"], ["--param", "data_root"], ["--token", TOKEN],
     ["--param", f"{DATA_ROOT}=s3://bucket/wdbc"], ["--pipeline-root", "s3://bucket/root"],
     ["--param", f"{SERVING_MODEL_DIR}=/models/wdbc"]],
    ids=["unknown parameter", "no value", "token on the command line", "s3 data",
         "s3 root", "serving base on no volume"],
)
def test_bad_arguments_are_refused_before_any_request(kfp_api, bad, capsys):
    with pytest.raises(SystemExit) as exit_:
        submit(kfp_api, *bad)
    assert exit_.value.code == cli.EXIT_USAGE
    assert kfp_api.calls == []
    if "s3://" in bad[-1]:
        assert "cannot open s3://" in capsys.readouterr().err
