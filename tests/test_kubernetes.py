"""kubernetes/: every overlay renders, validates against the Kubernetes schemas, meets Pod
Security "restricted", and its pieces point at each other (selectors, ports, mounted files)."""

from __future__ import annotations

import dataclasses
import functools
import os
import shutil
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from pipeline.config import PROJECT_ROOT, Resources

K8S = PROJECT_ROOT / "kubernetes"
OVERLAYS = ("dev", "prod")
# The oldest Kubernetes minor the manifests are meant for (unhealthyPodEvictionPolicy is GA
# from 1.31 but accepted since 1.27).
KUBERNETES_VERSION = "1.30"
WORKLOADS = {"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob"}
# Volume types Pod Security "restricted" allows.
RESTRICTED_VOLUMES = {
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
    "persistentVolumeClaim", "projected", "secret",
}
SERVING_PORTS = {8500, 8501}
CLIENT_LABEL = ("bcpipe.io/client", "true")
MONITORING_LABEL = ("bcpipe.io/monitoring", "true")


@functools.cache
def render(overlay: str) -> tuple[dict, ...]:
    kubectl = shutil.which("kubectl") or "/usr/bin/kubectl"
    out = subprocess.run(
        [kubectl, "kustomize", str(K8S / "overlays" / overlay)],
        check=True, capture_output=True, text=True,
    ).stdout
    return tuple(doc for doc in yaml.safe_load_all(out) if doc)


def objects(overlay: str, kind: str) -> list[dict]:
    return [o for o in render(overlay) if o["kind"] == kind]


def one(overlay: str, kind: str, name: str) -> dict:
    (found,) = [o for o in objects(overlay, kind) if o["metadata"]["name"] == name]
    return found


def pod_spec(obj: dict) -> dict:
    if obj["kind"] == "Pod":
        return obj["spec"]
    if obj["kind"] == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return obj["spec"]["template"]["spec"]


def workloads(overlay: str) -> list[dict]:
    return [o for o in render(overlay) if o["kind"] in WORKLOADS]


def all_containers(spec: dict) -> list[dict]:
    return spec.get("initContainers", []) + spec["containers"] + spec.get("ephemeralContainers", [])


def selects(selector: dict, labels: dict) -> bool:
    """matchLabels semantics; matchExpressions are not used in these manifests."""
    assert set(selector) == {"matchLabels"}, selector
    return selector["matchLabels"].items() <= labels.items()


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_renders_the_serving_stack_and_the_pipeline_runner(overlay):
    kinds = {(o["kind"], o["metadata"]["name"]) for o in render(overlay)}
    assert {
        ("Deployment", "tf-serving"),
        ("Service", "tf-serving"),
        ("NetworkPolicy", "tf-serving-ingress"),
        ("ServiceAccount", "tf-serving"),
        ("ServiceAccount", "bcpipe-pipeline-runner"),
        ("Role", "bcpipe-pipeline-runner"),
        ("RoleBinding", "bcpipe-pipeline-runner"),
    } <= kinds


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_validates_against_the_kubernetes_schemas(overlay):
    for obj in render(overlay):
        # strict: an unknown or misspelt field is an error, not silently dropped.
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def test_validation_rejects_a_misspelt_field():
    """The schema check above has teeth: a typo that kubectl would drop is caught."""
    deployment = one("dev", "Deployment", "tf-serving")
    broken = yaml.safe_load(yaml.safe_dump(deployment))
    broken["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def restricted_violations(spec: dict) -> list[str]:
    """Pod Security Standards "restricted" (v1.30), plus a read-only root file system."""
    found = []
    pod_ctx = spec.get("securityContext", {})
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(key):
            found.append(f"pod: {key}")
    for volume in spec.get("volumes", []):
        kinds = set(volume) - {"name"}
        if not kinds <= RESTRICTED_VOLUMES:
            found.append(f"volume {volume['name']}: {sorted(kinds)}")
    if pod_ctx.get("runAsUser") == 0:
        found.append("pod: runAsUser 0")
    for c in all_containers(spec):
        ctx = c.get("securityContext", {})
        name = c["name"]

        def effective(key, ctx=ctx):
            return ctx.get(key, pod_ctx.get(key))

        if effective("runAsNonRoot") is not True:
            found.append(f"{name}: runAsNonRoot")
        if effective("runAsUser") == 0:
            found.append(f"{name}: runAsUser 0")
        if (effective("seccompProfile") or {}).get("type") not in ("RuntimeDefault", "Localhost"):
            found.append(f"{name}: seccompProfile")
        if ctx.get("allowPrivilegeEscalation") is not False:
            found.append(f"{name}: allowPrivilegeEscalation")
        if ctx.get("privileged"):
            found.append(f"{name}: privileged")
        caps = ctx.get("capabilities", {})
        if "ALL" not in caps.get("drop", []):
            found.append(f"{name}: capabilities not dropped")
        if set(caps.get("add", [])) - {"NET_BIND_SERVICE"}:
            found.append(f"{name}: capabilities added")
        if ctx.get("readOnlyRootFilesystem") is not True:
            found.append(f"{name}: writable root file system")
        if any("hostPort" in p for p in c.get("ports", [])):
            found.append(f"{name}: hostPort")
    return found


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_container_meets_pod_security_restricted(overlay):
    assert workloads(overlay)
    for obj in workloads(overlay):
        assert restricted_violations(pod_spec(obj)) == [], obj["metadata"]["name"]


def test_the_restricted_check_catches_a_root_container():
    spec = yaml.safe_load(yaml.safe_dump(pod_spec(one("dev", "Deployment", "tf-serving"))))
    spec["securityContext"]["runAsNonRoot"] = False
    del spec["containers"][0]["securityContext"]["runAsNonRoot"]
    spec["containers"][0]["securityContext"]["capabilities"] = {"add": ["SYS_ADMIN"]}
    spec["volumes"].append({"name": "host", "hostPath": {"path": "/"}})
    assert len(restricted_violations(spec)) == 4


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_container_has_cpu_and_memory_requests_and_limits(overlay):
    for obj in workloads(overlay):
        for c in all_containers(pod_spec(obj)):
            for part in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(c.get("resources", {}).get(part, {})), c["name"]


def test_prod_namespace_enforces_restricted():
    (ns,) = objects("prod", "Namespace")
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert one("prod", "Deployment", "tf-serving")["metadata"]["namespace"] == ns["metadata"]["name"]


def test_deployment_selector_matches_its_pods():
    for overlay in OVERLAYS:
        deployment = one(overlay, "Deployment", "tf-serving")
        assert selects(deployment["spec"]["selector"], deployment["spec"]["template"]["metadata"]["labels"])


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_service_selects_the_serving_pods_on_grpc_and_rest(overlay):
    deployment = one(overlay, "Deployment", "tf-serving")
    service = one(overlay, "Service", "tf-serving")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    (container,) = pod_spec(deployment)["containers"]
    named = {p["name"]: p["containerPort"] for p in container["ports"]}
    served = {named[p["targetPort"]]: p["port"] for p in service["spec"]["ports"]}
    assert served == {8500: 8500, 8501: 8501}
    assert {"--port=8500", "--rest_api_port=8501"} <= set(container["args"])


def test_dev_is_one_cpu_replica_and_prod_is_several_gpu_replicas():
    dev, prod = (one(o, "Deployment", "tf-serving") for o in OVERLAYS)
    assert dev["spec"]["replicas"] == 1
    (dev_c,), (prod_c,) = (pod_spec(d)["containers"] for d in (dev, prod))
    assert dev_c["image"] == "tensorflow/serving:2.16.1"
    assert "nvidia.com/gpu" not in dev_c["resources"]["limits"]
    assert prod_c["image"] == "tensorflow/serving:2.16.1-gpu"
    assert prod_c["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert prod["spec"]["replicas"] >= 3
    spec = pod_spec(prod)
    assert spec["priorityClassName"] == one("prod", "PriorityClass", "bcpipe-serving")["metadata"]["name"]


def test_prod_serving_lands_on_the_gpu_pool_the_trainer_asks_for():
    """One source for the GPU pool's label and taint: `Resources` in pipeline/config.py."""
    resources = Resources()
    spec = pod_spec(one("prod", "Deployment", "tf-serving"))
    assert spec["nodeSelector"] == dict(resources.gpu_node_selector)
    expected = [
        {k: v for k, v in dataclasses.asdict(t).items() if v} for t in resources.gpu_tolerations
    ]
    assert spec["tolerations"] == expected


def test_prod_hpa_and_pdb_cover_the_deployment():
    deployment = one("prod", "Deployment", "tf-serving")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    (hpa,) = objects("prod", "HorizontalPodAutoscaler")
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", "tf-serving")
    assert hpa["metadata"]["namespace"] == deployment["metadata"]["namespace"]
    assert hpa["spec"]["minReplicas"] == deployment["spec"]["replicas"]
    (pdb,) = objects("prod", "PodDisruptionBudget")
    assert selects(pdb["spec"]["selector"], labels)
    assert pdb["metadata"]["namespace"] == deployment["metadata"]["namespace"]
    # A drain can always make progress while the HPA keeps its minimum.
    assert pdb["spec"]["minAvailable"] < hpa["spec"]["minReplicas"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_network_policy_admits_only_labelled_namespaces(overlay):
    deployment = one(overlay, "Deployment", "tf-serving")
    policy = one(overlay, "NetworkPolicy", "tf-serving-ingress")
    assert selects(policy["spec"]["podSelector"], deployment["spec"]["template"]["metadata"]["labels"])
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    admitted = {}
    for rule in policy["spec"]["ingress"]:
        ports = {p["port"] for p in rule["ports"]}
        assert ports <= SERVING_PORTS
        for peer in rule["from"]:
            # No ipBlock and no podSelector: a peer is a whole namespace carrying the label.
            assert set(peer) == {"namespaceSelector"}, peer
            (label,) = peer["namespaceSelector"]["matchLabels"].items()
            admitted[label] = admitted.get(label, set()) | ports
    assert admitted == {CLIENT_LABEL: SERVING_PORTS, MONITORING_LABEL: {8501}}


def mounted_files(spec: dict, container: dict, overlay: str) -> dict[str, dict]:
    """Path in the container -> the ConfigMap key it shows, for ConfigMap volumes."""
    by_volume = {v["name"]: v for v in spec["volumes"]}
    files = {}
    for mount in container["volumeMounts"]:
        config_map = by_volume[mount["name"]].get("configMap")
        if config_map:
            data = one(overlay, "ConfigMap", config_map["name"])["data"]
            for key, value in data.items():
                files[f"{mount['mountPath']}/{key}"] = value
    return files


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_file_the_server_and_probe_read_is_mounted(overlay):
    spec = pod_spec(one(overlay, "Deployment", "tf-serving"))
    (container,) = spec["containers"]
    files = mounted_files(spec, container, overlay)
    flags = dict(a.removeprefix("--").split("=", 1) for a in container["args"])
    for flag in ("model_config_file", "monitoring_config_file", "batching_parameters_file"):
        assert flags[flag] in files, flag
    assert flags["enable_batching"] == "true"
    # Labels in models.config would stop a starting server without it.
    assert flags["allow_version_labels_for_unavailable_models"] == "true"
    command = container["readinessProbe"]["exec"]["command"]
    assert command[0] == "/bin/bash" and command[1] in files
    assert command[2] == flags["model_config_file"]


def served_models_config(overlay: str) -> str:
    spec = pod_spec(one(overlay, "Deployment", "tf-serving"))
    (container,) = spec["containers"]
    (path,) = [a.split("=", 1)[1] for a in container["args"] if a.startswith("--model_config_file=")]
    return mounted_files(spec, container, overlay)[path]


def test_prod_serves_from_the_bucket_and_dev_from_the_claim():
    dev = pod_spec(one("dev", "Deployment", "tf-serving"))
    claim = next(v for v in dev["volumes"] if "persistentVolumeClaim" in v)
    assert one("dev", "PersistentVolumeClaim", claim["persistentVolumeClaim"]["claimName"])
    (mount,) = [m for m in dev["containers"][0]["volumeMounts"] if m["name"] == claim["name"]]
    assert f'base_path: "{mount["mountPath"]}/wdbc"' in served_models_config("dev")
    prod = pod_spec(one("prod", "Deployment", "tf-serving"))
    assert not any("persistentVolumeClaim" in v for v in prod["volumes"])
    assert not objects("prod", "PersistentVolumeClaim")
    assert 'base_path: "gs://' in served_models_config("prod")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_pipeline_runner_role_is_least_privilege(overlay):
    role = one(overlay, "Role", "bcpipe-pipeline-runner")
    for rule in role["rules"]:
        assert "*" not in rule["verbs"] + rule["resources"] + rule["apiGroups"]
        assert not {"create", "update", "patch", "delete"} & set(rule["verbs"]) or (
            rule["resources"] == ["workflowtaskresults"]
        )
        if rule["resources"] in (["secrets"], ["configmaps"]):
            assert rule.get("resourceNames") and rule["verbs"] == ["get"]
    binding = one(overlay, "RoleBinding", "bcpipe-pipeline-runner")
    (subject,) = binding["subjects"]
    account = one(overlay, "ServiceAccount", subject["name"])
    assert subject["namespace"] == account["metadata"]["namespace"] == role["metadata"]["namespace"]


SERVING_CONFIG_DIRS = (
    K8S / "base" / "serving-config",
    K8S / "overlays" / "prod" / "serving" / "serving-config",
)


@pytest.mark.parametrize("committed", SERVING_CONFIG_DIRS, ids=["base", "prod"])
def test_committed_serving_config_is_what_bcpipe_serving_config_writes(committed, tmp_path):
    """Regenerated from what the committed models.config says: its model base and, when a
    rollout pinned stable and canary versions, a store holding exactly those versions (so
    nothing is read from the real store, which may be a bucket)."""
    from google.protobuf import text_format
    from tensorflow_serving.config.model_server_config_pb2 import ModelServerConfig

    from pipeline.cli import main
    from serving.layout import SAVED_MODEL_FILE

    store = tmp_path / "store"
    store.mkdir()
    bases = set()
    config = text_format.Parse((committed / "models.config").read_text(), ModelServerConfig())
    for model in config.model_config_list.config:
        bases.add(model.base_path.removesuffix(f"/{model.name}"))
        for version in model.model_version_policy.specific.versions:
            (store / model.name / str(version)).mkdir(parents=True)
            (store / model.name / str(version) / SAVED_MODEL_FILE).write_bytes(b"")
    (model_base,) = bases
    out = tmp_path / "out"
    args = ["serving-config", "--model-base", model_base, "--local-base", str(store)]
    assert main([*args, "--out", str(out)]) == 0
    for path in committed.iterdir():
        assert path.read_text() == (out / path.name).read_text(), path


def _probe(config: Path, port: int) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(K8S / "base" / "probe" / "ready.sh"), str(config), str(port)],
        capture_output=True, text=True, timeout=30, env={"PATH": os.environ["PATH"]},
    )


@pytest.fixture
def rest_status():
    """A REST endpoint answering GET /v1/models/<name> as TF Serving does."""
    from tests.tf_serving_rest import ModelStatusServer

    with ModelStatusServer() as server:
        yield server


def test_readiness_probe_passes_only_when_every_model_has_a_version_available(rest_status):
    config = K8S / "base" / "serving-config" / "models.config"
    rest_status.states = {"idc_patch": {1: "AVAILABLE"}, "wdbc": {3: "AVAILABLE", 4: "LOADING"}}
    assert _probe(config, rest_status.port).returncode == 0

    rest_status.states = {"idc_patch": {1: "AVAILABLE"}, "wdbc": {4: "LOADING"}}
    result = _probe(config, rest_status.port)
    assert result.returncode == 1 and "wdbc" in result.stdout

    rest_status.states = {"wdbc": {1: "AVAILABLE"}}  # idc_patch unknown: 404
    result = _probe(config, rest_status.port)
    assert result.returncode == 1 and "idc_patch" in result.stdout

    rest_status.states = {"idc_patch": {2: "END"}, "wdbc": {1: "AVAILABLE"}}
    assert _probe(config, rest_status.port).returncode == 1
    idc, wdbc = "/v1/models/idc_patch", "/v1/models/wdbc"
    assert rest_status.requested == [idc, wdbc, idc, wdbc, idc, idc]


def test_readiness_probe_waits_for_every_pinned_version(rest_status, tmp_path):
    """A canary config pins stable and canary: both must be AVAILABLE before traffic."""
    from google.protobuf import text_format
    from tensorflow_serving.config.model_server_config_pb2 import ModelServerConfig

    config = text_format.Parse(
        (K8S / "base" / "serving-config" / "models.config").read_text(), ModelServerConfig()
    )
    wdbc = next(m for m in config.model_config_list.config if m.name == "wdbc")
    wdbc.model_version_policy.specific.versions.extend([3, 5])
    wdbc.version_labels["stable"], wdbc.version_labels["canary"] = 3, 5
    pinned = tmp_path / "models.config"
    pinned.write_text(text_format.MessageToString(config))

    rest_status.states = {"idc_patch": {1: "AVAILABLE"}, "wdbc": {3: "AVAILABLE", 5: "LOADING"}}
    result = _probe(pinned, rest_status.port)
    assert result.returncode == 1 and "pinned version 5" in result.stdout
    rest_status.states["wdbc"] = {3: "AVAILABLE", 5: "AVAILABLE"}
    assert _probe(pinned, rest_status.port).returncode == 0
    # Version 3 is not pinned for idc_patch: any AVAILABLE version will do there.
    rest_status.states["idc_patch"] = {3: "LOADING", 2: "AVAILABLE"}
    assert _probe(pinned, rest_status.port).returncode == 0


def test_readiness_probe_fails_when_nothing_listens(tmp_path, rest_status):
    port = rest_status.port
    rest_status.close()
    result = _probe(K8S / "base" / "serving-config" / "models.config", port)
    assert result.returncode == 1 and "closed" in result.stdout


def test_readiness_probe_fails_on_a_config_without_models(tmp_path, rest_status):
    empty = tmp_path / "models.config"
    empty.write_text("model_config_list {\n}\n")
    assert _probe(empty, rest_status.port).returncode == 1


def test_dev_cluster_config_mounts_the_claim_tf_serving_serves_from():
    """The pipeline's Pusher writes where dev's TF Serving reads: one claim, one path."""
    from pipeline import config
    from pipeline.cluster import apply

    spec = pod_spec(one("dev", "Deployment", "tf-serving"))
    claims = {v["name"]: v["persistentVolumeClaim"]["claimName"]
              for v in spec["volumes"] if "persistentVolumeClaim" in v}
    mounts = {m["mountPath"]: claims[m["name"]]
              for m in spec["containers"][0]["volumeMounts"] if m["name"] in claims}
    for profile in config.PROFILES.values():
        applied = apply(K8S / "overlays" / "dev" / "bcpipe-cluster.yaml", profile)
        volume = applied.serving_volume
        assert mounts == {volume.path: volume.claim}
        assert one("dev", "PersistentVolumeClaim", volume.claim)
        assert applied.trainer_resources.gpus == 0  # no GPU pool on a one-node cluster
