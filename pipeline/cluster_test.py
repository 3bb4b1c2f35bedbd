import pytest

from pipeline import config, exits
from pipeline.cluster import apply

CLUSTER = """
trainer:
  cpu: 16
  memory: 64Gi
  gpus: 2
  gpu_type: nvidia.com/gpu
  vertex_accelerator: NVIDIA_L4
  gpu_node_selector: {cloud.google.com/gke-accelerator: nvidia-l4}
  gpu_tolerations:
    - {key: dedicated, operator: Equal, value: ml, effect: NoExecute}
    - {key: nvidia.com/gpu}
beam: {cpu: "6", memory: 24G}
staging: {sizes: {examples: 10Gi}, headroom: 2}
serving_volume: {claim: bcpipe-models}
"""


def cluster_file(tmp_path, text: str):
    path = tmp_path / "cluster.yaml"
    path.write_text(text)
    return path


def test_a_cluster_file_sets_what_it_names_and_keeps_the_rest(tmp_path):
    profile = apply(cluster_file(tmp_path, CLUSTER), config.IDC)
    trainer = profile.trainer_resources
    assert (trainer.cpu, trainer.memory, trainer.gpus) == ("16", "64Gi", 2)
    assert trainer.vertex_accelerator == "NVIDIA_L4"
    assert trainer.gpu_node_selector == (("cloud.google.com/gke-accelerator", "nvidia-l4"),)
    assert trainer.gpu_tolerations == (
        config.Toleration(key="dedicated", operator="Equal", value="ml", effect="NoExecute"),
        config.Toleration(key="nvidia.com/gpu"),
    )
    assert (profile.beam_resources.cpu, profile.beam_resources.memory) == ("6", "24G")
    assert profile.staging.sizes == (("examples", "10Gi"),) and profile.staging.headroom == 2.0
    assert profile.staging.other == config.IDC.staging.other
    assert profile.serving_volume.mounted == "/models"
    # Everything else is the profile's own.
    assert profile.training == config.IDC.training and profile.thresholds == config.IDC.thresholds


def test_a_partial_file_changes_only_its_keys(tmp_path):
    profile = apply(cluster_file(tmp_path, "trainer: {gpus: 0}\n"), config.IDC)
    assert profile.trainer_resources.gpus == 0
    assert profile.trainer_resources.cpu == config.IDC.trainer_resources.cpu
    assert profile.beam_resources == config.IDC.beam_resources
    assert apply(cluster_file(tmp_path, ""), config.WDBC) == config.WDBC


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("trainers: {}", "unknown trainers; known: beam, serving_volume, staging, trainer"),
        ("serving_volume: {claim: Models_1}", "claim 'Models_1': not a Kubernetes object name"),
        ("serving_volume: {claim: models, path: models}", "path 'models': an absolute path"),
        ("trainer: {gpu: 1}", "trainer: unknown gpu; known: cpu, "),
        ("trainer: {gpus: two}", "trainer.gpus: 'two' is not a whole number"),
        ("trainer: {gpus: -1}", "trainer: gpus -1: a whole number, 0 or more"),
        ("trainer: {memory: 32GB}", "trainer: not a memory quantity: '32GB'"),
        ("trainer: {cpu: 0}", "trainer: cpu 0 and memory 32G must be more than 0"),
        ("trainer: {gpu_node_selector: [a]}", "trainer.gpu_node_selector: ['a'] is not a mapping"),
        ("trainer: {gpu_tolerations: [{key: k, operator: Equal}]}",
         "trainer.gpu_tolerations[0]: toleration k: Equal takes a value, Exists none"),
        ("trainer: {gpu_tolerations: [{operator: Exists}]}",
         "trainer.gpu_tolerations[0]: Toleration.__init__() missing 1 required positional "
         "argument: 'key'"),
        ("trainer: {gpu_tolerations: [{key: k, effect: NoRun}]}", "toleration effect 'NoRun'"),
        ("beam: {cpu: 500m}", "beam cpu 500m: whole cores, 1 or more"),
        ("staging: {headroom: 0.5}", "staging: headroom 0.5: a factor of 1 or more"),
        ("staging: {sizes: {examples: lots}}", "staging: not a memory quantity: 'lots'"),
        ("- trainer", "expected a mapping, got ['trainer']"),
        ("trainer: {cpu: [", "while parsing a flow"),
    ],
)
def test_what_is_wrong_is_named(tmp_path, text, says):
    path = cluster_file(tmp_path, text)
    with pytest.raises(exits.UsageError) as err:
        apply(path, config.IDC)
    assert str(err.value).startswith(f"--cluster-config {path}")
    assert says in str(err.value)
