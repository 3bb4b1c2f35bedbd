"""Runs a compiled KFP package step by step the way open-source KFP 2.x runs it, on GCS.

Each step of the package's root DAG, in dependency order:
- Argo's rule: a task runs only if every dependent task Succeeded; Skipped or Omitted is not
  Succeeded (backend/src/v2/compiler/argocompiler/dag.go:713-725 `depends`);
- the driver (backend/src/v2/driver/container.go:47-125): inputs resolved from the task spec
  (constants, run parameters or the pipeline's defaults, upstream outputs as published;
  an upstream that published none fails the driver, resolve.go:732), the trigger condition
  evaluated as CEL over the ExecutorInput (container.go:88-94, expression.go:134; false means
  the executor node is Skipped, container.go:330), outputs provisioned under
  `<pipeline root>/<pipeline>/<run>/<task>/<uuid>/<output>` (driver.go:733-790, the run's
  root from metadata/client.go:420), the pipeline root taken from the run's config, never
  from the package (root_dag.go:109-113);
- the launcher (backend/src/v2/component/launcher_v2.go:657-712 `execute`): every input
  artifact downloaded into a fresh pod directory with the object store's semantics
  (objectstore/object_store.go:176-205 DownloadBlob, :235-256 downloadFile), the command's
  placeholders resolved by KFP's own Python code (kfp.local.placeholder_utils), the command
  run as a subprocess, then the executor's output merged into the provisioned artifacts
  (launcher_v2.go:1188 mergeRuntimeArtifacts, `display_name` defaulting to the output's name,
  metadata/client.go:1234) and published only when the step succeeded (launcher_v2.go:785).
The run Failed when any step did, as an Argo workflow does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import celpy
import yaml
from google.protobuf import json_format
from kfp.local import executor_input_utils, placeholder_utils
from kfp.pipeline_spec import pipeline_spec_pb2 as pb

SUCCEEDED, FAILED, SKIPPED, OMITTED = "Succeeded", "Failed", "Skipped", "Omitted"
EXECUTOR_LOGS = "executor-logs"
ABORT_AT_EXIT = "pure virtual method called"


@dataclass
class Step:
    state: str
    executor_input: dict | None = None
    outputs: dict[str, dict] = field(default_factory=dict)
    log: str = ""


def _key(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("gs://").partition("/")
    return bucket, key


def download_blob(client, uri: str, local_dir: Path) -> None:
    """object_store.go:176 DownloadBlob: every object listed under the prefix (no delimiter)
    becomes a local file at its path relative to the prefix, a `dir/` marker included."""
    bucket, prefix = _key(uri)
    for blob in client.list_blobs(bucket, prefix=prefix):
        key = blob.name
        stripped = prefix.rstrip("/")
        if not (key == stripped or key.startswith(stripped + "/")):  # isBlobKeyUnderPrefix
            continue
        local = Path(os.path.normpath(local_dir / os.path.relpath(key, prefix)))
        local.parent.mkdir(parents=True, exist_ok=True)  # os.MkdirAll(filepath.Dir(...))
        with open(local, "wb") as handle:  # os.Create
            blob.download_to_file(handle)


def gcs_client(env: dict[str, str]):
    """google-cloud-storage on the emulator the environment names."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    return storage.Client(project="test", credentials=AnonymousCredentials(),
                          client_options={"api_endpoint": env["STORAGE_EMULATOR_HOST"]})


def upload_tree(client, local: Path, uri: str) -> None:
    """Copies a local folder to `uri` as gsutil would: objects only, no directory markers."""
    bucket, key = _key(uri)
    for path in sorted(p for p in local.rglob("*") if p.is_file()):
        name = f"{key.rstrip('/')}/{path.relative_to(local).as_posix()}"
        client.bucket(bucket).blob(name).upload_from_filename(str(path))


def as_handed_on(published: dict, index: int) -> dict:
    """An upstream artifact as a driver hands it to the next step: by its recorded type's
    title, with an empty instance schema (KFP 2.0-2.4), or untyped (the shapes
    pipeline/pod_entrypoint.py copes with); a step's inputs take the three in turn."""
    given = {k: v for k, v in published.items() if k != "type"}
    shapes = (published["type"], {"instanceSchema": ""}, None)
    if shapes[index % 3] is not None:
        given["type"] = shapes[index % 3]
    return given


def _title(artifact_type: pb.ArtifactTypeSchema) -> str:
    if artifact_type.WhichOneof("kind") == "schema_title":
        return artifact_type.schema_title
    return yaml.safe_load(artifact_type.instance_schema)["title"]


class KfpRun:
    def __init__(self, package: Path, *, pipeline_root: str, env: dict[str, str], work: Path,
                 parameters: dict | None = None):
        self.spec = json_format.ParseDict(
            next(d for d in yaml.safe_load_all(package.read_text()) if d), pb.PipelineSpec()
        )
        self.deployment = json_format.ParseDict(
            json_format.MessageToDict(self.spec.deployment_spec), pb.PipelineDeploymentConfig()
        )
        self.root = f"{pipeline_root.rstrip('/')}/{self.spec.pipeline_info.name}/{uuid.uuid4()}"
        self.env, self.work, self.parameters = env, work, parameters or {}
        self.client = gcs_client(env)
        self.steps: dict[str, Step] = {}

    def order(self) -> list[str]:
        tasks, done, order = self.spec.root.dag.tasks, set(), []
        while len(order) < len(tasks):
            ready = sorted(n for n, t in tasks.items()
                           if n not in done and set(t.dependent_tasks) <= done)
            if not ready:
                raise ValueError("the DAG has a cycle")
            order.append(ready[0])
            done.add(ready[0])
        return order

    def run(self) -> str:
        for name in self.order():
            self.steps[name] = self._task(name)
        return FAILED if any(s.state == FAILED for s in self.steps.values()) else SUCCEEDED

    def _parameter(self, spec: pb.TaskInputsSpec.InputParameterSpec):
        if spec.HasField("runtime_value"):
            return json_format.MessageToDict(spec.runtime_value.constant)
        name = spec.component_input_parameter
        default = self.spec.root.input_definitions.parameters[name].default_value
        return self.parameters.get(name, json_format.MessageToDict(default))

    def _task(self, name: str) -> Step:
        task = self.spec.root.dag.tasks[name]
        if any(self.steps[d].state != SUCCEEDED for d in task.dependent_tasks):
            return Step(OMITTED)
        component = self.spec.components[task.component_ref.name]
        artifacts = {}
        for index, (key, source) in enumerate(sorted(task.inputs.artifacts.items())):
            producer = self.steps[source.task_output_artifact.producer_task]
            published = producer.outputs.get(source.task_output_artifact.output_artifact_key)
            if published is None:
                return Step(FAILED, log=f"driver: cannot find producer output for {key}")
            artifacts[key] = {"artifacts": [as_handed_on(published, index)]}
        executor_input = {"inputs": {
            "artifacts": artifacts,
            "parameterValues": {k: self._parameter(p) for k, p in task.inputs.parameters.items()},
        }}
        condition = task.trigger_policy.condition
        if condition and not self._triggers(condition, executor_input):
            return Step(SKIPPED, executor_input)
        task_root = f"{self.root}/{name}/{uuid.uuid4()}"
        outputs = {
            key: {"name": key, "uri": f"{task_root}/{key}",
                  "type": json_format.MessageToDict(definition.artifact_type)}
            for key, definition in component.output_definitions.artifacts.items()
        }
        outputs[EXECUTOR_LOGS] = {"name": EXECUTOR_LOGS, "uri": f"{task_root}/{EXECUTOR_LOGS}",
                                  "type": {"schemaTitle": "system.Artifact"}}
        pod = self.work / name
        output_file = pod / "gcs" / _key(task_root)[0] / _key(task_root)[1] / "output_metadata.json"
        executor_input["outputs"] = {
            "artifacts": {k: {"artifacts": [a]} for k, a in outputs.items()},
            "outputFile": str(output_file),
        }
        return self._launch(name, component, executor_input, pod, outputs)

    def _triggers(self, condition: str, executor_input: dict) -> bool:
        environment = celpy.Environment()
        program = environment.program(environment.compile(condition))
        message = json_format.ParseDict(executor_input, pb.ExecutorInput())
        fields = json_format.MessageToDict(message, preserving_proto_field_name=True)
        return bool(program.evaluate(celpy.json_to_cel(fields)))

    def _launch(self, name, component, executor_input, pod: Path, outputs) -> Step:
        pod.mkdir(parents=True)
        try:
            for listed in executor_input["inputs"]["artifacts"].values():
                for artifact in listed["artifacts"]:
                    bucket, key = _key(artifact["uri"])
                    download_blob(self.client, artifact["uri"], pod / "gcs" / bucket / key)
        except OSError as err:
            return Step(FAILED, executor_input, log=f"launcher: failed to download: {err}")
        container = self.deployment.executors[component.executor_label].container
        message = json_format.ParseDict(executor_input, pb.ExecutorInput())
        command = placeholder_utils.replace_placeholders(
            [*container.command, *container.args],
            executor_input_utils.executor_input_to_dict(message, component),
            pipeline_resource_name=self.spec.pipeline_info.name,
            task_resource_name=name, pipeline_root=self.root,
        )
        command = [sys.executable if c == "python" else c for c in command]
        Path(executor_input["outputs"]["outputFile"]).parent.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(command, cwd=pod, env={**os.environ, **self.env},
                                capture_output=True, text=True, timeout=1200)
        log = result.stdout + result.stderr
        if result.returncode != 0:
            return Step(FAILED, executor_input, log=f"exit {result.returncode}\n{log}")
        written = json.loads(Path(executor_input["outputs"]["outputFile"]).read_text())
        published = {}
        for key, artifact in outputs.items():
            if key == EXECUTOR_LOGS:
                continue
            merged = dict(artifact, metadata=dict(artifact.get("metadata", {})))
            for given in written.get("artifacts", {}).get(key, {}).get("artifacts", [])[:1]:
                merged["uri"] = given.get("uri") or merged["uri"]
                merged["metadata"].update(given.get("metadata", {}))
            merged["metadata"].setdefault("display_name", key)
            # The type as MLMD recorded it, by its title.
            merged["type"] = {"schemaTitle": _title(json_format.ParseDict(
                artifact["type"], pb.ArtifactTypeSchema()))}
            published[key] = merged
        return Step(SUCCEEDED, executor_input, published, log)
