"""Which versions the store loads, when, and what it does with a version it cannot load."""

import shutil
from pathlib import Path

import grpc
import pytest
import tensorflow as tf
from tensorflow_serving.apis import model_pb2, predict_pb2
from tensorflow_serving.config import model_server_config_pb2

from serving import warmup
from serving.loadable import latest_servable_version
from serving.serving_config import models_config
from serving.status import ServingError
from serving.version_manager import State, VersionManager
from tests.serving_models import (
    delete_variables,
    exported,
    push,
    push_broken,
    truncate_variables,
    wdbc_rows,
)


def _spec(name="wdbc", version=None, label=None) -> model_pb2.ModelSpec:
    spec = model_pb2.ModelSpec(name=name)
    if version is not None:
        spec.version.value = version
    if label is not None:
        spec.version_label = label
    return spec


def _states(store: VersionManager, name="wdbc") -> dict[int, int]:
    return {s.version: s.state for s in store.status(_spec(name)).model_version_status}


def _code(call) -> grpc.StatusCode:
    with pytest.raises(ServingError) as raised:
        call()
    return raised.value.code


def test_serves_the_latest_version_and_ignores_staging_and_stray_dirs(tmp_path):
    push(tmp_path, "wdbc", 1)
    push(tmp_path, "wdbc", 2, seed=2)
    shutil.copytree(exported()["wdbc", 1], tmp_path / "wdbc" / ".staging-3")
    (tmp_path / "wdbc" / "notes").mkdir()
    (tmp_path / ".trash").mkdir()
    store = VersionManager(model_base=str(tmp_path))
    store.poll()
    assert store.model_names() == ["wdbc"]
    assert store.servable(_spec()).version == 2
    assert _states(store) == {2: State.AVAILABLE}
    assert _code(lambda: store.servable(_spec(version=1))) == grpc.StatusCode.NOT_FOUND
    assert _code(lambda: store.servable(_spec("idc"))) == grpc.StatusCode.NOT_FOUND


def test_session_threads_are_per_model_and_change_no_answer(tmp_path):
    push(tmp_path, "wdbc", 1)
    shutil.copytree(tmp_path / "wdbc", tmp_path / "other")
    store = VersionManager(model_base=str(tmp_path), session_threads={"wdbc": 1})
    store.poll()
    single, default = store.servable(_spec()), store.servable(_spec("other"))
    assert (single.threads, default.threads) == (1, 0)
    request = predict_pb2.PredictRequest()
    request.inputs["examples"].CopyFrom(tf.make_tensor_proto(wdbc_rows(64).examples()))
    answers = [s.predict(request).outputs["probability"].float_val for s in (single, default)]
    assert len(answers[0]) == 64
    assert list(answers[0]) == list(answers[1])


def test_a_new_version_replaces_the_old_only_once_available(tmp_path):
    push(tmp_path, "wdbc", 1)
    store = VersionManager(model_base=str(tmp_path))
    store.poll()
    held = store.servable(_spec())
    push(tmp_path, "wdbc", 2, seed=2)
    store.poll()
    assert store.servable(_spec()).version == 2
    assert _states(store) == {1: State.END, 2: State.AVAILABLE}
    # A request that resolved version 1 before the swap still completes on it.
    request = predict_pb2.PredictRequest()
    request.inputs["examples"].CopyFrom(tf.make_tensor_proto(wdbc_rows(1).examples()))
    assert held.predict(request).model_spec.version.value == 1


@pytest.mark.parametrize("missing", ["variables", "variables/variables.data-00000-of-00001"])
def test_an_incomplete_version_is_not_loaded_until_it_is_whole(tmp_path, missing):
    push(tmp_path, "wdbc", 1)
    complete = Path(exported()["wdbc", 2])
    partial = tmp_path / "wdbc" / "2"
    shutil.copytree(complete, partial)
    moved = tmp_path / "held-back"
    shutil.move(partial / missing, moved)
    store = VersionManager(model_base=str(tmp_path))
    store.poll()
    assert store.servable(_spec()).version == 1
    assert _states(store) == {1: State.AVAILABLE}
    shutil.move(moved, partial / missing)
    store.poll()
    assert store.servable(_spec()).version == 2


def _break_warmup(version_dir: Path) -> None:
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "wdbc"
    request.inputs["no_such_input"].CopyFrom(tf.make_tensor_proto([b""]))
    warmup.write_warmup(str(version_dir), [request])


def _break_variables(version_dir: Path) -> None:
    (version_dir / "variables" / "variables.data-00000-of-00001").write_bytes(b"garbage")


@pytest.mark.parametrize("missing, reason", [
    ("variables", "variables/ is missing"),
    ("variables/variables.data-00000-of-00001", "variables/ lacks data shards"),
])
def test_a_version_incomplete_longer_than_a_push_is_reported_until_whole(tmp_path, missing,
                                                                         reason):
    push(tmp_path, "wdbc", 1)
    partial = tmp_path / "wdbc" / "2"
    shutil.copytree(exported()["wdbc", 2], partial)
    shutil.move(partial / missing, tmp_path / "held-back")
    store = VersionManager(model_base=str(tmp_path), incomplete_report_seconds=0)
    store.poll()
    status = {s.version: s for s in store.status(_spec()).model_version_status}
    assert status[2].state == State.END
    assert status[2].status.error_message == f"not a complete SavedModel: {reason}"
    assert store.servable(_spec()).version == 1
    shutil.move(tmp_path / "held-back", partial / missing)
    store.poll()
    assert _states(store) == {1: State.END, 2: State.AVAILABLE}
    assert not store.status(_spec(version=2)).model_version_status[0].status.error_message


def test_the_latest_servable_version_is_the_one_the_server_serves(tmp_path):
    push(tmp_path, "wdbc", 1)
    for version, breakage in enumerate(
        [truncate_variables, _break_variables, delete_variables, _break_warmup], start=2
    ):
        push_broken(tmp_path, version, breakage)
    assert latest_servable_version(str(tmp_path / "wdbc")) == 1
    store = VersionManager(model_base=str(tmp_path))
    store.poll()
    assert store.servable(_spec()).version == 1
    assert latest_servable_version(str(tmp_path / "none")) is None


@pytest.mark.parametrize("breakage", [_break_warmup, _break_variables])
def test_a_version_that_fails_to_load_is_reported_and_the_old_one_keeps_serving(tmp_path, breakage):
    push(tmp_path, "wdbc", 1)
    push_broken(tmp_path, 2, breakage)
    store = VersionManager(model_base=str(tmp_path))
    store.poll()
    store.poll()  # a failed version is not retried on every poll
    status = {s.version: s for s in store.status(_spec()).model_version_status}
    assert status[2].state == State.END
    assert status[2].status.error_code != 0 and status[2].status.error_message
    assert status[1].state == State.AVAILABLE
    assert store.servable(_spec()).version == 1
    push(tmp_path, "wdbc", 3)
    store.poll()
    assert _states(store) == {1: State.END, 2: State.END, 3: State.AVAILABLE}


def test_models_config_pins_versions_and_resolves_labels(tmp_path):
    for version in (1, 2, 3):
        push(tmp_path, "wdbc", version, seed=1 + version % 2)
    config = tmp_path / "models.config"
    config.write_text(str(models_config(str(tmp_path), {"wdbc": [1, 2, 3]})))
    store = VersionManager(models_config=str(config))
    store.poll()
    assert _states(store) == {2: State.AVAILABLE, 3: State.AVAILABLE}
    assert store.servable(_spec(label="stable")).version == 2
    assert store.servable(_spec(label="canary")).version == 3
    assert store.servable(_spec()).version == 3
    assert store.servable(_spec(version=2)).version == 2
    assert _code(lambda: store.servable(_spec(label="beta"))) == grpc.StatusCode.INVALID_ARGUMENT
    assert _code(lambda: store.servable(_spec("idc_patch"))) == grpc.StatusCode.NOT_FOUND

    # A rollback is a config change the next poll picks up.
    config.write_text(str(models_config(str(tmp_path), {"wdbc": [1]})))
    store.poll()
    assert _states(store) == {1: State.AVAILABLE, 2: State.END, 3: State.END}
    assert store.servable(_spec(label="canary")).version == 1


def test_an_unparsable_config_keeps_the_last_good_one(tmp_path):
    push(tmp_path, "wdbc", 1)
    config = tmp_path / "models.config"
    config.write_text(str(models_config(str(tmp_path), {"wdbc": [1]})))
    store = VersionManager(models_config=str(config))
    store.poll()
    config.write_text("model_config_list { config { nme: 'x' } }")
    store.poll()
    assert store.servable(_spec(label="stable")).version == 1


def test_reload_config_replaces_the_models(tmp_path):
    push(tmp_path, "wdbc", 1)
    push(tmp_path, "idc_patch", 1)
    store = VersionManager(model_base=str(tmp_path))
    store.poll()
    assert store.model_names() == ["idc_patch", "wdbc"]
    only_wdbc = model_server_config_pb2.ModelServerConfig()
    only_wdbc.model_config_list.config.add(name="wdbc", base_path=str(tmp_path / "wdbc"))
    store.reload_config(only_wdbc)
    assert store.model_names() == ["wdbc"]
    assert _code(lambda: store.servable(_spec("idc_patch"))) == grpc.StatusCode.NOT_FOUND
