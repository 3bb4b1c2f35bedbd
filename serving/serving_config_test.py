"""`bcpipe serving-config` writes the files TF Serving starts from."""

from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from pipeline import cli
from pipeline.config import SERVING
from serving.serving_config import SERVING_PROTOS, parse_models_config
from tests.serving_models import delete_variables, push, push_broken, truncate_variables


def _by_name(config) -> dict[str, model_server_config_pb2.ModelConfig]:
    return {c.name: c for c in config.model_config_list.config}


def test_writes_models_config_monitoring_and_batching(tmp_path, capsys):
    local = tmp_path / "pushed"
    for version in (1, 2, 3):
        push(local, "wdbc", version)
    push(local, "idc_patch", 4)
    (local / "wdbc" / ".staging-4").mkdir()
    out = tmp_path / "config"
    argv = ["serving-config", "--model-base", "/models", "--local-base", str(local)]
    assert cli.main([*argv, "--out", str(out)]) == cli.EXIT_OK
    assert len(capsys.readouterr().out.splitlines()) == 3

    models = _by_name(parse_models_config((out / "models.config").read_text()))
    assert set(models) == {"wdbc", "idc_patch"}
    wdbc, idc = models["wdbc"], models["idc_patch"]
    assert (wdbc.base_path, wdbc.model_platform) == ("/models/wdbc", "tensorflow")
    assert list(wdbc.model_version_policy.specific.versions) == [2, 3]
    assert dict(wdbc.version_labels) == {"stable": 2, "canary": 3}
    assert list(idc.model_version_policy.specific.versions) == [4]
    assert dict(idc.version_labels) == {"stable": 4, "canary": 4}

    monitoring = text_format.Parse(
        (out / "monitoring.config").read_text(), SERVING_PROTOS["MonitoringConfig"]()
    )
    assert monitoring.prometheus_config.enable
    assert monitoring.prometheus_config.path == SERVING.prometheus_path
    batching = text_format.Parse(
        (out / "batching_parameters.txt").read_text(), SERVING_PROTOS["BatchingParameters"]()
    )
    assert batching.max_batch_size.value == SERVING.max_batch_size
    assert batching.batch_timeout_micros.value == SERVING.batch_timeout_micros
    assert batching.num_batch_threads.value == SERVING.num_batch_threads


def test_without_readable_versions_models_keep_their_latest_and_have_no_labels(tmp_path):
    out = tmp_path / "config"
    assert (
        cli.main(["serving-config", "--model-base", str(tmp_path / "none"), "--out", str(out)]) == 0
    )
    for model in _by_name(parse_models_config((out / "models.config").read_text())).values():
        assert model.model_version_policy.latest.num_versions == SERVING.versions_loaded
        assert not model.version_labels


def test_a_version_that_does_not_load_is_never_labelled(tmp_path):
    local = tmp_path / "pushed"
    push(local, "wdbc", 1)
    push(local, "wdbc", 2)
    push_broken(local, 3, truncate_variables)
    push_broken(local, 4, delete_variables)
    out = tmp_path / "config"
    argv = ["serving-config", "--model-base", "/models", "--local-base", str(local)]
    assert cli.main([*argv, "--out", str(out)]) == cli.EXIT_OK
    wdbc = _by_name(parse_models_config((out / "models.config").read_text()))["wdbc"]
    assert list(wdbc.model_version_policy.specific.versions) == [1, 2]
    assert dict(wdbc.version_labels) == {"stable": 1, "canary": 2}
