"""Compiles a pipeline for Kubeflow Pipelines v2 on Kubernetes, or for Vertex AI.

Thin, like TFX's kubeflow_v2_runner template: `create_pipeline` builds the same DAG the
local runner runs; only what differs on a cluster is chosen here. Compiling uploads nothing
and needs no credentials: module code is referenced by dotted path and baked into the image.

TFX 1.16's compiler writes for Vertex AI. For open-source KFP (DESIGN.md, "Kubeflow target"):
- schema 2.1.0 as YAML, the pipeline root as `defaultPipelineRoot`, and a second document
  `platforms: kubernetes:` putting the Trainer on the GPU node pool and giving each step
  room for the inputs KFP's launcher copies in (see platform_spec for the KFP versions);
- Beam steps ask for CPU and memory and run one DirectRunner worker per requested core;
- no resolver nodes: the baseline is whatever is served when the run gets there
  (ServedBaseline with -1), so that step is never taken from KFP's cache;
- no pre-cache hook: ExampleGen's driver runs in the pod (pipeline/pod_entrypoint.py) and
  ExampleGen is never taken from KFP's cache, whose key cannot see a new span;
- a span refused at the gate still gets its review report, then fails the run
  (pipeline/kubeflow_gate.py).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from pipeline import cluster, config, exits
from pipeline.kubeflow_gate import add_refusal
from pipeline.pod_entrypoint import INPUTS_SPEC, OUTPUTS_SPEC
from pipeline.quantities import cpus, gigabytes, mebibytes

TARGETS = ("kfp", "vertex")
DATA_ROOT = "data_root"
SERVING_MODEL_DIR = "serving_model_dir"
# Where KFP's launcher puts a gs:// input artifact it downloads into the pod
# (backend/src/v2/component/launcher_v2.go, LocalPathForURI).
LAUNCHER_GCS_DIR = "/gcs"
STAGING_VOLUME = "launcher-staging"


def pipeline_name(profile: config.Profile) -> str:
    return f"bcpipe-{profile.name}"


def package_file(profile: config.Profile, target: str) -> str:
    return f"{pipeline_name(profile)}.{'yaml' if target == 'kfp' else 'json'}"


def join(base: str, *parts: str) -> str:
    """Joins URI parts with '/', which os.path.join would not do for gs:// on every OS."""
    return "/".join([base.rstrip("/"), *parts])


def resource_spec(resources: config.Resources, target: str):
    """What a step asks for: on KFP also as requests, so the scheduler reserves it."""
    from kfp.pipeline_spec import pipeline_spec_pb2 as pb

    spec = pb.PipelineDeploymentConfig.PipelineContainerSpec.ResourceSpec(
        cpu_limit=cpus(resources.cpu), memory_limit=gigabytes(resources.memory)
    )
    if target == "kfp":
        spec.cpu_request, spec.memory_request = spec.cpu_limit, spec.memory_limit
    if resources.gpus:
        spec.accelerator.count = resources.gpus
        spec.accelerator.type = (
            resources.gpu_type if target == "kfp" else resources.vertex_accelerator
        )
    return spec


def gpu_placement(resources: config.Resources) -> dict:
    """A GPU step's node selector and tolerations, as kfp-kubernetes writes them."""
    if not resources.gpus:
        return {}
    return {
        "nodeSelector": {"labels": dict(resources.gpu_node_selector)},
        "tolerations": [
            {k: v for k, v in dataclasses.asdict(t).items() if v}
            for t in resources.gpu_tolerations
        ],
    }


def staging_sizes(spec, staging: config.Staging) -> dict[str, str]:
    """Executor label -> room for the input artifacts the launcher copies into its pod (the
    most any task running that executor takes)."""
    sizes = {}
    for task in spec.root.dag.tasks.values():
        inputs = task.inputs.artifacts.values()
        if inputs:
            total = sum(staging.size(a.task_output_artifact.output_artifact_key) for a in inputs)
            label = spec.components[task.component_ref.name].executor_label
            sizes[label] = max(sizes.get(label, 0), total)
    return {label: mebibytes(total * staging.headroom) for label, total in sizes.items()}


def platform_spec(executors: dict[str, dict]):
    """The `platforms: kubernetes:` document: KubernetesExecutorConfig by executor label.

    What it may hold sets the KFP versions the package runs on: the driver parses each
    executor's config strictly (jsonpb), so a field its kubernetes_platform module lacks
    fails the step. `nodeSelector` and `pvcMount` are in every 2.x; `tolerations` came with
    KFP 2.1.0 (2.0.5's go.mod pins kubernetes_platform bd9f74e34de6, which has none, and its
    backend/src/v2/cmd/driver/main.go:135 rejects them) and `emptyDirMounts` with 2.3.0
    (go.mod: kubernetes_platform d911c8b73b49; applied in backend/src/v2/driver/driver.go:667).
    So: KFP >= 2.3.
    """
    from google.protobuf import json_format
    from kfp.pipeline_spec import pipeline_spec_pb2 as pb

    executors = {label: config_ for label, config_ in executors.items() if config_}
    if not executors:
        return pb.PlatformSpec()
    deployment = {"deploymentSpec": {"executors": executors}}
    return json_format.ParseDict({"platforms": {"kubernetes": deployment}}, pb.PlatformSpec())


def _executor_label(node_id: str) -> str:
    return f"{node_id}_executor"


def _finish(spec, *, target: str, pipeline_root: str, defaults: dict[str, str], uncached,
            resources):
    """What TFX's compiler leaves to do; changes `spec` (a PipelineSpec) in place."""
    from google.protobuf import json_format
    from kfp.pipeline_spec import pipeline_spec_pb2 as pb

    deployment = json_format.ParseDict(
        json_format.MessageToDict(spec.deployment_spec), pb.PipelineDeploymentConfig()
    )
    resolvers = sorted(k for k, e in deployment.executors.items() if e.HasField("resolver"))
    if target == "kfp" and resolvers:
        raise ValueError(f"open-source KFP cannot run resolver nodes: {resolvers}")
    for component in spec.components.values():
        executor = deployment.executors[component.executor_label]
        if not executor.HasField("container"):
            continue
        container = executor.container
        if component.executor_label in resources:
            container.resources.CopyFrom(resources[component.executor_label])
        # The pod entry point types artifacts by what the component declares (KFP does not).
        at = list(container.args).index(f"--{INPUTS_SPEC}") + 2
        outputs = json_format.MessageToJson(component.output_definitions, sort_keys=True)
        container.args[at:at] = [f"--{OUTPUTS_SPEC}", outputs]
        if target == "kfp":
            container.ClearField("lifecycle")  # KFP has no pre-cache hook; see pod_entrypoint
    spec.deployment_spec.Clear()
    spec.deployment_spec.update(json_format.MessageToDict(deployment))

    project = f"{config.PROJECT_ROOT}/"
    for task in spec.root.dag.tasks.values():
        for parameter in task.inputs.parameters.values():
            constant = parameter.runtime_value.constant
            # Files of this checkout (the schema) sit at the same place in the image's tree.
            if constant.WhichOneof("kind") == "string_value" and constant.string_value.startswith(
                project
            ):
                constant.string_value = constant.string_value[len(project):]
    for node_id in uncached:
        spec.root.dag.tasks[node_id].caching_options.enable_cache = False
    for name, value in defaults.items():
        parameter = spec.root.input_definitions.parameters[name]
        parameter.default_value.string_value = value
        parameter.is_optional = True
    if target == "kfp":
        spec.default_pipeline_root = pipeline_root
        add_refusal(spec)


def _platform(spec, profile: config.Profile, trainer_label: str, serving_labels: list[str],
              pipeline_root: str):
    """What each executor's pod needs beyond the pipeline spec: KubernetesExecutorConfigs."""
    executors = {trainer_label: gpu_placement(profile.trainer_resources)}
    if profile.serving_volume.claim:
        claim = profile.serving_volume
        for label in serving_labels:
            executors.setdefault(label, {})["pvcMount"] = [
                {"constant": claim.claim, "mountPath": claim.path}
            ]
    if pipeline_root.startswith("gs://"):
        for label, size in staging_sizes(spec, profile.staging).items():
            executors.setdefault(label, {})["emptyDirMounts"] = [
                {"volumeName": STAGING_VOLUME, "mountPath": LAUNCHER_GCS_DIR, "sizeLimit": size}
            ]
    return executors


def compile_pipeline(
    profile: config.Profile,
    *,
    image: str,
    pipeline_root: str,
    out_dir: Path,
    target: str = "kfp",
    data_root: str | None = None,
    serving_base: str | None = None,
    beam_runner: str = "direct",
    beam_args: tuple[str, ...] = (),
    train_steps: int | None = None,
) -> Path:
    """Writes the pipeline package for `target` under `out_dir` and returns its path."""
    from google.protobuf import json_format
    from kfp.compiler.pipeline_spec_builder import write_pipeline_spec_to_file
    from kfp.pipeline_spec import pipeline_spec_pb2 as pb
    from tfx import v1 as tfx
    from tfx.components import FileBasedExampleGen
    from tfx.dsl.components.base.executor_spec import BeamExecutorSpec
    from tfx.orchestration import data_types

    from components.baseline import LATEST_AT_RUN_TIME, ServedBaseline
    from components.pusher import Pusher
    from components.review_report import ReviewReport
    from pipeline.pipeline import create_pipeline

    if target not in TARGETS:
        raise ValueError(f"unknown target {target!r}; choose from {TARGETS}")
    k = config.KUBEFLOW
    defaults = {
        DATA_ROOT: data_root or join(pipeline_root, k.data_dir, profile.name),
        SERVING_MODEL_DIR: join(
            serving_base or join(pipeline_root, k.serving_dir), profile.model_name
        ),
    }
    temp_location = join(pipeline_root, k.beam_temp_dir)
    pipeline = create_pipeline(
        profile=profile,
        pipeline_name=pipeline_name(profile),
        pipeline_root=pipeline_root,
        # Run-time parameters: `bcpipe submit --param data_root=...` points a run elsewhere.
        data_root=data_types.RuntimeParameter(DATA_ROOT, ptype=str, default=defaults[DATA_ROOT]),
        serving_model_dir=data_types.RuntimeParameter(
            SERVING_MODEL_DIR, ptype=str, default=defaults[SERVING_MODEL_DIR]
        ),
        served_version=LATEST_AT_RUN_TIME,
        train_steps=train_steps or profile.training.train_steps,
        beam_pipeline_args=config.BEAM.cluster_args(
            beam_runner, image=image, temp_location=temp_location
        ),
    )
    nodes = pipeline.components
    trainer = next(n for n in nodes if isinstance(n, tfx.components.Trainer))
    # Set in _finish rather than with_platform_config: TFX's step builder drops a
    # FileBasedExampleGen's (step_builder.py, _build_file_based_example_gen_spec).
    resources = {_executor_label(trainer.id): resource_spec(profile.trainer_resources, target)}
    # One DirectRunner worker per requested core; the caller's own arguments come last, so
    # they win.
    workers = int(cpus(profile.beam_resources.cpu))
    for node in nodes:
        if isinstance(node.executor_spec, BeamExecutorSpec):
            resources[_executor_label(node.id)] = resource_spec(profile.beam_resources, target)
            node.with_beam_pipeline_args([
                *([f"--direct_num_workers={workers}"] if beam_runner == "direct" else []),
                *beam_args,
            ])
    uncached = [n.id for n in nodes if isinstance(n, ServedBaseline)]
    # What reads or writes the serving base: the baseline and the Pusher, and the report,
    # which fingerprints the pushed version there.
    serving = [_executor_label(n.id) for n in nodes
               if isinstance(n, (ServedBaseline, Pusher, ReviewReport))]
    if target == "kfp":
        uncached += [n.id for n in nodes if isinstance(n, FileBasedExampleGen)]

    runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
        config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(
            default_image=image,
            default_commands=list(k.pod_command),
            use_pipeline_spec_2_1=True,
        )
    )
    job = runner.run(pipeline, parameter_values=defaults, write_out=False)
    spec = json_format.ParseDict(job["pipelineSpec"], pb.PipelineSpec())
    _finish(spec, target=target, pipeline_root=pipeline_root, defaults=defaults,
            uncached=uncached, resources=resources)

    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / package_file(profile, target)
    if target == "kfp":
        write_pipeline_spec_to_file(
            spec,
            f"bcpipe {profile.name}: TFX {spec.sdk_version.removeprefix('tfx-')} pipeline for "
            "open-source Kubeflow Pipelines",
            platform_spec(
                _platform(spec, profile, _executor_label(trainer.id), serving, pipeline_root)
            ),
            str(path),
        )
    else:
        job["pipelineSpec"] = json_format.MessageToDict(spec)
        path.write_text(json.dumps(job, indent=2, sort_keys=True))
    return path


def read_package(path: Path):
    """(PipelineSpec, PlatformSpec) of a KFP package, parsed strictly as the API server does."""
    import yaml
    from google.protobuf import json_format
    from kfp.pipeline_spec import pipeline_spec_pb2 as pb

    documents = [d for d in yaml.safe_load_all(path.read_text()) if d]
    spec = json_format.ParseDict(documents[0], pb.PipelineSpec())
    platforms = json_format.ParseDict(documents[1] if len(documents) > 1 else {}, pb.PlatformSpec())
    return spec, platforms


def check_location(option: str, uri: str, *, volume: str = "") -> None:
    """Refuses a location the pods cannot use. TensorFlow 2.16 opens gs:// and paths only:
    its s3:// file system left for tensorflow-io (not in the image), it never had minio://,
    and KFP hands object-store credentials to its launcher, not to the step. A path is the
    pod's own disk, gone with the pod, unless `volume` (a claim's mount path) holds it."""
    scheme, sep, _ = uri.partition("://")
    if sep and scheme == "gs" or volume and f"{uri}/".startswith(f"{volume.rstrip('/')}/"):
        return
    reason = (
        f"TensorFlow 2.16 in the pods cannot open {scheme}:// (KFP gives object-store "
        "credentials to its launcher, not to the steps)" if sep
        else f"not under {volume}, where the serving claim is mounted" if volume
        else "a path in a pod is the pod's own disk, gone with it (a claim can be mounted "
             "for the serving base: serving_volume in --cluster-config)"
    )
    raise exits.UsageError(f"{option}={uri}: {reason}; give a gs:// URI")


def profile_from_args(args: argparse.Namespace) -> config.Profile:
    """The pipeline's profile with what --cluster-config sets for this cluster."""
    profile = config.profile(args.pipeline)
    return cluster.apply(args.cluster_config, profile) if args.cluster_config else profile


def compile_from_args(args: argparse.Namespace, *, out_dir: Path, target: str) -> Path:
    """`compile_pipeline` with the options `bcpipe compile kubeflow` and `submit` share."""
    if args.train_steps is not None and args.train_steps < 1:
        raise exits.UsageError("--train-steps must be at least 1")
    profile = profile_from_args(args)
    check_location("--pipeline-root", args.pipeline_root)
    if args.data_root is not None:
        check_location("--data-root", args.data_root)
    if args.serving_base is not None:
        check_location("--serving-base", args.serving_base, volume=profile.serving_volume.mounted)
    return compile_pipeline(
        profile,
        image=args.image,
        pipeline_root=args.pipeline_root,
        out_dir=out_dir,
        target=target,
        data_root=args.data_root,
        serving_base=args.serving_base,
        beam_runner=args.beam_runner,
        beam_args=tuple(args.beam_arg),
        train_steps=args.train_steps,
    )


def main(args: argparse.Namespace) -> int:
    path = compile_from_args(args, out_dir=args.out, target=args.target)
    print(f"compiled {pipeline_name(config.profile(args.pipeline))} for {args.target}: {path}")
    return exits.EXIT_OK
