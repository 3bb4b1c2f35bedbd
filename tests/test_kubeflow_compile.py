"""`bcpipe compile kubeflow` for every pipeline: the package open-source KFP's API server
takes (schema 2.1.0 YAML plus the `platforms: kubernetes:` document), the DAG it describes,
and what each step asks of the cluster. No cluster is needed: the checks follow what KFP's
own loader, API server and driver do with the file (see pipeline/kubeflow_runner.py)."""

from __future__ import annotations

import dataclasses
import json
import re

import celpy
import pytest
import yaml
from google.protobuf import json_format
from kfp.client.client import _extract_pipeline_yaml
from kfp.pipeline_spec import pipeline_spec_pb2 as pb

from components.schema_importer import fingerprint
from pipeline import cli, config
from pipeline.kubeflow_gate import REFUSAL, REFUSED_REPORT
from pipeline.kubeflow_runner import (
    DATA_ROOT,
    LAUNCHER_GCS_DIR,
    SERVING_MODEL_DIR,
    compile_pipeline,
    read_package,
)
from pipeline.quantities import bytes_of, gigabytes

IMAGE = "registry.example/bcpipe:1.0"
ROOT = "gs://bcpipe-test/root"
EXAMPLE_GEN = "ExampleGen"  # CsvExampleGen or IdcExampleGen, by profile
GATE = "ValidationGate"
VERDICT = f"_{GATE}.verdict"
GATED = ("Transform", "Trainer", "ServedBaseline", "Evaluator", "Pusher")
# task -> {input: (producer, output)}
WIRING = {
    EXAMPLE_GEN: {},
    "SchemaImporter": {},
    "SplitCheck": {"examples": (EXAMPLE_GEN, "examples")},
    "StatisticsGen": {
        "examples": (EXAMPLE_GEN, "examples"),
        "schema": ("SchemaImporter", "schema"),
    },
    "ExampleValidator": {
        "statistics": ("StatisticsGen", "statistics"),
        "schema": ("SchemaImporter", "schema"),
    },
    GATE: {"anomalies": ("ExampleValidator", "anomalies"), "split_proof": ("SplitCheck", "proof")},
    "Transform": {"examples": (EXAMPLE_GEN, "examples"), "schema": ("SchemaImporter", "schema")},
    "Trainer": {
        "examples": ("Transform", "transformed_examples"),
        "transform_graph": ("Transform", "transform_graph"),
        "schema": ("SchemaImporter", "schema"),
    },
    "ServedBaseline": {},
    "Evaluator": {
        "examples": (EXAMPLE_GEN, "examples"),
        "model": ("Trainer", "model"),
        "baseline_model": ("ServedBaseline", "baseline"),
    },
    "Pusher": {"model": ("Trainer", "model"), "model_blessing": ("Evaluator", "blessing")},
    "ReviewReport": {
        "examples": (EXAMPLE_GEN, "examples"),
        "statistics": ("StatisticsGen", "statistics"),
        "schema": ("SchemaImporter", "schema"),
        "anomalies": ("ExampleValidator", "anomalies"),
        "split_proof": ("SplitCheck", "proof"),
        "verdict": (GATE, "verdict"),
        "transform_graph": ("Transform", "transform_graph"),
        "model": ("Trainer", "model"),
        "baseline_model": ("ServedBaseline", "baseline"),
        "evaluation": ("Evaluator", "evaluation"),
        "blessing": ("Evaluator", "blessing"),
        "pushed_model": ("Pusher", "pushed_model"),
    },
}
REFUSAL_TASKS = {REFUSED_REPORT, REFUSAL}
BEAM_STEPS = (EXAMPLE_GEN, "StatisticsGen", "Transform", "Evaluator")
# What the platform document may say of an executor: fields of kfp-kubernetes'
# KubernetesExecutorConfig (kubernetes_platform/proto/kubernetes_executor_config.proto) that
# KFP 2.3's driver knows; it parses each executor's config strictly.
EXECUTOR_CONFIG_FIELDS = {"nodeSelector", "tolerations", "emptyDirMounts"}
EMPTY_DIR_FIELDS = {"volumeName", "mountPath", "medium", "sizeLimit"}


@pytest.fixture(scope="module", params=sorted(config.PROFILES))
def compiled(request, tmp_path_factory):
    profile = config.PROFILES[request.param]
    path = compile_pipeline(
        profile, image=IMAGE, pipeline_root=ROOT, out_dir=tmp_path_factory.mktemp("kfp")
    )
    spec, platforms = read_package(path)
    return profile, path, spec, platforms


def task_name(spec: pb.PipelineSpec, name: str) -> str:
    if name != EXAMPLE_GEN:
        return name
    (found,) = [t for t in spec.root.dag.tasks if t.endswith(EXAMPLE_GEN)]
    return found


def executors(spec: pb.PipelineSpec) -> pb.PipelineDeploymentConfig:
    return json_format.ParseDict(
        json_format.MessageToDict(spec.deployment_spec), pb.PipelineDeploymentConfig()
    )


def test_package_is_what_the_api_server_accepts(compiled):
    profile, path, spec, platforms = compiled
    documents = list(yaml.safe_load_all(path.read_text()))
    assert len(documents) == 2
    for executor in documents[1]["platforms"]["kubernetes"]["deploymentSpec"]["executors"].values():
        assert set(executor) <= EXECUTOR_CONFIG_FIELDS
        assert all(set(mount) <= EMPTY_DIR_FIELDS for mount in executor["emptyDirMounts"])
    # KFP's own loader (kfp.Client) and a strict parse, as the API server's protojson does.
    loaded = _extract_pipeline_yaml(str(path))
    assert loaded.pipeline_spec == spec
    assert loaded.platform_spec == platforms
    # The API server's checks (backend/src/apiserver/template/v2_template.go).
    assert spec.schema_version == "2.1.0"
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", spec.pipeline_info.name)
    assert spec.root.dag.tasks
    assert spec.default_pipeline_root == ROOT
    for name in (DATA_ROOT, SERVING_MODEL_DIR):
        parameter = spec.root.input_definitions.parameters[name]
        assert parameter.is_optional and parameter.default_value.string_value.startswith(ROOT)


def test_dag_has_the_expected_steps_and_edges(compiled):
    _, _, spec, _ = compiled
    tasks = spec.root.dag.tasks
    # The tasks a refused span runs are pipeline/kubeflow_gate_test.py's.
    assert set(tasks) - REFUSAL_TASKS == {task_name(spec, t) for t in WIRING}
    for task, inputs in WIRING.items():
        wired = {
            key: (a.task_output_artifact.producer_task, a.task_output_artifact.output_artifact_key)
            for key, a in tasks[task_name(spec, task)].inputs.artifacts.items()
            if key != VERDICT
        }
        assert wired == {k: (task_name(spec, p), o) for k, (p, o) in inputs.items()}, task
        upstream = {p for p, _ in wired.values()} | ({GATE} if task in GATED else set())
        assert set(tasks[task_name(spec, task)].dependent_tasks) == upstream, task


def test_only_the_trainer_asks_for_an_accelerator(compiled):
    profile, _, spec, platforms = compiled
    wanted = profile.trainer_resources
    for label, executor in executors(spec).executors.items():
        resources = executor.container.resources
        if label != "Trainer_executor":
            assert not resources.HasField("accelerator"), label
            continue
        assert resources.cpu_limit == resources.cpu_request == float(wanted.cpu)
        assert resources.memory_limit == resources.memory_request == gigabytes(wanted.memory)
        assert resources.accelerator.count == wanted.gpus
    placed = [
        label for label, e in platforms.platforms["kubernetes"].deployment_spec.executors.items()
        if "nodeSelector" in e or "tolerations" in e
    ]
    assert placed == (["Trainer_executor"] if wanted.gpus else [])


def test_beam_steps_ask_for_the_cores_their_workers_use(compiled):
    profile, _, spec, _ = compiled
    wanted = profile.beam_resources
    beam = {f"{task_name(spec, step)}_executor" for step in BEAM_STEPS}
    for label, executor in executors(spec).executors.items():
        container = executor.container
        if label in beam:
            resources = container.resources
            assert resources.cpu_limit == resources.cpu_request == float(wanted.cpu), label
            assert resources.memory_limit == resources.memory_request == gigabytes(
                wanted.memory), label
            # Beam's last --direct_num_workers wins; 0 would be one per core of the node.
            (workers,) = [a for a in container.args if a.startswith("--direct_num_workers=")][-1:]
            assert workers == f"--direct_num_workers={int(float(wanted.cpu))}", label
        else:
            assert not any(a.startswith("--direct_num_workers") for a in container.args), label
        if label not in beam | {"Trainer_executor"}:
            assert not container.HasField("resources"), label


def staged(platforms: pb.PlatformSpec) -> dict[str, float]:
    """Executor label -> bytes of the emptyDir at the launcher's download directory."""
    sizes = {}
    for label, executor in platforms.platforms["kubernetes"].deployment_spec.executors.items():
        for mount in json_format.MessageToDict(executor).get("emptyDirMounts", []):
            assert mount["mountPath"] == LAUNCHER_GCS_DIR, label
            sizes[label] = bytes_of(mount["sizeLimit"])
    return sizes


def test_each_step_has_room_for_the_inputs_the_launcher_copies_in(compiled):
    profile, _, spec, platforms = compiled
    staging = profile.staging
    tasks = spec.root.dag.tasks

    def label(task: str) -> str:  # tasks may share an executor
        return spec.components[tasks[task_name(spec, task)].component_ref.name].executor_label

    expected = {}
    for task, inputs in WIRING.items():
        outputs = [o for _, o in inputs.values()] + (["verdict"] if task in GATED else [])
        if outputs:
            room = staging.headroom * sum(staging.size(o) for o in outputs)
            expected[label(task)] = max(expected.get(label(task), 0), room)
    sizes = staged(platforms)
    assert set(sizes) == {
        spec.components[task.component_ref.name].executor_label
        for task in tasks.values() if task.inputs.artifacts
    } >= set(expected)
    for executor, room in expected.items():
        assert room <= sizes[executor] < room + 2**20, executor  # rounded up to whole Mi
    # The examples go to five steps, each with room for them.
    examples = staging.headroom * staging.size("examples")
    takers = [t for t, i in WIRING.items() if (EXAMPLE_GEN, "examples") in i.values()]
    assert len(takers) == 5
    assert all(sizes[label(t)] >= examples for t in takers)


def test_no_staging_room_for_a_root_the_launcher_would_not_download_from(tmp_path):
    _, platforms = read_package(compile_pipeline(
        config.WDBC, image=IMAGE, pipeline_root=str(tmp_path / "root"), out_dir=tmp_path))
    assert staged(platforms) == {}


def test_a_gpu_trainer_goes_to_the_gpu_pool(tmp_path):
    resources = dataclasses.replace(config.Resources(), gpus=2)
    profile = dataclasses.replace(config.WDBC, trainer_resources=resources)
    spec, platforms = read_package(
        compile_pipeline(profile, image=IMAGE, pipeline_root=ROOT, out_dir=tmp_path)
    )
    trainer = executors(spec).executors["Trainer_executor"].container.resources
    assert (trainer.accelerator.type, trainer.accelerator.count) == ("nvidia.com/gpu", 2)
    (platform,) = platforms.platforms
    assert platform == "kubernetes"
    config_ = json_format.MessageToDict(
        platforms.platforms[platform].deployment_spec.executors["Trainer_executor"])
    assert config_["nodeSelector"] == {"labels": {"nvidia.com/gpu.present": "true"}}
    assert config_["tolerations"] == [
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
    ]


def test_every_step_runs_the_image_through_the_pod_entry_point(compiled):
    _, _, spec, _ = compiled
    deployment = executors(spec)
    components = {t.component_ref.name for t in spec.root.dag.tasks.values()}
    assert len(deployment.executors) == len(components)
    resolvers = [label for label, e in deployment.executors.items() if e.HasField("resolver")]
    assert resolvers == []
    for label, executor in deployment.executors.items():
        container = executor.container
        assert container.image == IMAGE, label
        if label == f"{REFUSAL}_executor":
            continue
        assert tuple(container.command) == config.KUBEFLOW.pod_command, label
        assert not container.HasField("lifecycle"), label  # KFP runs no pre-cache hook
        assert "--json_serialized_outputs_spec_args" in container.args, label


def test_gate_decides_whether_transform_onward_runs(compiled):
    _, _, spec, _ = compiled
    tasks = spec.root.dag.tasks
    program = None
    for name in tasks:
        condition = tasks[name].trigger_policy.condition
        if name in REFUSAL_TASKS:
            continue
        if name not in GATED:
            assert not condition, name
            continue
        source = tasks[name].inputs.artifacts[VERDICT].task_output_artifact
        assert (source.producer_task, source.output_artifact_key) == (GATE, "verdict")
        if program is None:
            program = celpy.Environment().program(celpy.Environment().compile(condition))
        assert condition == tasks["Transform"].trigger_policy.condition

    def triggers(passed) -> bool:
        # The KFP driver evaluates the condition on the task's ExecutorInput.
        executor_input = pb.ExecutorInput()
        verdict = executor_input.inputs.artifacts[VERDICT].artifacts.add(name="41", uri="gs://v")
        verdict.metadata.update({"passed": passed})
        fields = json_format.MessageToDict(executor_input, preserving_proto_field_name=True)
        return bool(program.evaluate(celpy.json_to_cel(fields)))

    assert triggers(1) is True
    assert triggers(0) is False


def test_baseline_and_example_gen_never_come_from_kfp_cache(compiled):
    _, _, spec, _ = compiled
    tasks = spec.root.dag.tasks
    uncached = {task_name(spec, EXAMPLE_GEN), "ServedBaseline", REFUSAL}
    for name, task in tasks.items():
        assert task.caching_options.enable_cache == (name not in uncached), name
    served = tasks["ServedBaseline"].inputs.parameters["served_version"]
    assert served.runtime_value.constant.number_value == -1  # look up what is served now


def test_files_of_this_checkout_are_named_as_the_image_holds_them(compiled):
    profile, path, spec, _ = compiled
    assert str(config.PROJECT_ROOT) not in path.read_text()
    parameters = spec.root.dag.tasks["SchemaImporter"].inputs.parameters
    schema = parameters["schema_file"].runtime_value.constant.string_value
    assert config.PROJECT_ROOT / schema == profile.schema_file
    assert parameters["schema_fingerprint"].runtime_value.constant.string_value == fingerprint(
        profile.schema_file
    )


def test_compiling_uploads_nothing(tmp_path):
    root = tmp_path / "pipeline-root"
    compile_pipeline(config.WDBC, image=IMAGE, pipeline_root=str(root), out_dir=tmp_path / "out")
    assert not root.exists()
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["bcpipe-wdbc.yaml"]


@pytest.mark.parametrize(
    ("runner", "expected"),
    [
        ("direct", "--runner=DirectRunner"),
        ("dataflow", "--runner=DataflowRunner"),
        ("flink", f"--job_endpoint={config.BEAM.flink_job_endpoint}"),
        ("spark", f"--job_endpoint={config.BEAM.spark_job_endpoint}"),
    ],
)
def test_beam_steps_take_the_chosen_runner(tmp_path, runner, expected):
    spec, _ = read_package(
        compile_pipeline(
            config.WDBC, image=IMAGE, pipeline_root=ROOT, out_dir=tmp_path,
            beam_runner=runner, beam_args=("--max_num_workers=4",),
        )
    )
    deployment = executors(spec)
    for step in BEAM_STEPS:
        args = list(deployment.executors[f"{task_name(spec, step)}_executor"].container.args)
        assert expected in args, step
        assert args[-1] == "--max_num_workers=4", step  # given last, so it wins
        assert ("--direct_num_workers=2" in args) == (runner == "direct"), step
    if runner == "dataflow":
        assert f"--sdk_container_image={IMAGE}" in args
        assert f"--temp_location={ROOT}/beam-tmp" in args


def test_vertex_gets_a_pipeline_job(tmp_path):
    profile = dataclasses.replace(
        config.WDBC, trainer_resources=dataclasses.replace(config.Resources(), gpus=1)
    )
    path = compile_pipeline(
        profile, image=IMAGE, pipeline_root=ROOT, out_dir=tmp_path, target="vertex"
    )
    job = json_format.ParseDict(json.loads(path.read_text()), pb.PipelineJob())
    assert job.runtime_config.gcs_output_directory == ROOT
    assert set(job.runtime_config.parameter_values) == {DATA_ROOT, SERVING_MODEL_DIR}
    spec = json_format.ParseDict(json_format.MessageToDict(job.pipeline_spec), pb.PipelineSpec())
    deployment = executors(spec)
    trainer = deployment.executors["Trainer_executor"].container.resources
    assert trainer.accelerator.type == profile.trainer_resources.vertex_accelerator
    # Vertex runs ExampleGen's driver as a pre-cache hook, so that step may be cached there.
    assert deployment.executors["CsvExampleGen_executor"].container.HasField("lifecycle")
    assert spec.root.dag.tasks["CsvExampleGen"].caching_options.enable_cache


def test_cli_compiles(tmp_path, capsys):
    code = cli.main([
        "compile", "kubeflow", "--pipeline", "wdbc", "--image", IMAGE,
        "--pipeline-root", ROOT, "--out", str(tmp_path), "--beam-runner", "spark",
    ])
    assert code == cli.EXIT_OK
    assert str(tmp_path / "bcpipe-wdbc.yaml") in capsys.readouterr().out
    spec, _ = read_package(tmp_path / "bcpipe-wdbc.yaml")
    transform = executors(spec).executors["Transform_executor"].container
    assert "--runner=PortableRunner" in transform.args


def test_a_cluster_config_sets_the_trainer_and_beam_steps(tmp_path):
    """What a platform team sets per cluster, without editing pipeline/config.py."""
    cluster = tmp_path / "cluster.yaml"
    cluster.write_text(
        "trainer: {cpu: 6, memory: 20Gi, gpus: 2, gpu_type: nvidia.com/mig-1g.10gb,\n"
        "          gpu_node_selector: {pool: a100},\n"
        "          gpu_tolerations: [{key: pool, operator: Equal, value: a100}]}\n"
        "beam: {cpu: 3, memory: 6G}\n"
    )
    code = cli.main([
        "compile", "kubeflow", "--pipeline", "wdbc", "--image", IMAGE, "--pipeline-root", ROOT,
        "--out", str(tmp_path), "--cluster-config", str(cluster),
    ])
    assert code == cli.EXIT_OK
    spec, platforms = read_package(tmp_path / "bcpipe-wdbc.yaml")
    deployment = executors(spec)
    trainer = deployment.executors["Trainer_executor"].container.resources
    assert (trainer.cpu_request, trainer.memory_request) == (6.0, gigabytes("20Gi"))
    assert (trainer.accelerator.type, trainer.accelerator.count) == ("nvidia.com/mig-1g.10gb", 2)
    placement = json_format.MessageToDict(
        platforms.platforms["kubernetes"].deployment_spec.executors["Trainer_executor"])
    assert placement["nodeSelector"] == {"labels": {"pool": "a100"}}
    assert placement["tolerations"] == [
        {"key": "pool", "operator": "Equal", "value": "a100", "effect": "NoSchedule"}
    ]
    transform = deployment.executors["Transform_executor"].container
    assert (transform.resources.cpu_request, transform.resources.memory_request) == (3.0, 6.0)
    assert "--direct_num_workers=3" in transform.args


def compile_cli(tmp_path, *extra: str) -> int:
    return cli.main(["compile", "kubeflow", "--pipeline", "wdbc", "--image", IMAGE,
                     "--pipeline-root", ROOT, "--out", str(tmp_path), *extra])


def test_a_serving_claim_is_mounted_where_the_serving_base_is_read_and_written(tmp_path):
    """kubernetes/overlays/dev: TF Serving and the pipeline share the claim bcpipe-models."""
    cluster = tmp_path / "cluster.yaml"
    cluster.write_text("serving_volume: {claim: bcpipe-models, path: /models}\n")
    code = compile_cli(tmp_path, "--cluster-config", str(cluster), "--serving-base", "/models")
    assert code == cli.EXIT_OK
    spec, platforms = read_package(tmp_path / "bcpipe-wdbc.yaml")
    mounted = {
        label: json_format.MessageToDict(e)["pvcMount"]
        for label, e in platforms.platforms["kubernetes"].deployment_spec.executors.items()
        if "pvcMount" in e
    }
    assert set(mounted) == {"ServedBaseline_executor", "Pusher_executor", "ReviewReport_executor"}
    assert all(m == [{"constant": "bcpipe-models", "mountPath": "/models"}]
               for m in mounted.values())
    default = spec.root.input_definitions.parameters[SERVING_MODEL_DIR].default_value
    assert default.string_value == "/models/wdbc"


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        (["--pipeline-root", "s3://bucket/root"], "cannot open s3://"),
        (["--pipeline-root", "minio://mlpipeline/v2/artifacts"], "cannot open minio://"),
        (["--pipeline-root", "/srv/root"], "a path in a pod is the pod's own disk"),
        (["--data-root", "s3://bucket/wdbc"], "cannot open s3://"),
        (["--serving-base", "/models"], "serving_volume in --cluster-config"),
    ],
)
def test_locations_the_pods_cannot_use_are_refused(tmp_path, capsys, extra, says):
    with pytest.raises(SystemExit) as exit_:
        compile_cli(tmp_path, *extra)
    assert exit_.value.code == cli.EXIT_USAGE
    assert says in capsys.readouterr().err
    assert not any(tmp_path.iterdir())
