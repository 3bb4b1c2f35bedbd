"""Pushes land whole, in numbered versions, once per distinct model."""

import json
import os
from pathlib import Path

from components.model_files import content_hash, pushed_content_hash
from components.pusher import push
from serving import layout


def _model(root: Path, payload: bytes) -> Path:
    (root / "variables").mkdir(parents=True)
    (root / "saved_model.pb").write_bytes(payload)
    (root / "variables" / "variables.index").write_bytes(payload[::-1])
    return root


def test_versions_count_up_and_identical_models_are_not_pushed_twice(tmp_path):
    serving = tmp_path / "serving" / "wdbc"
    first = _model(tmp_path / "m1", b"model-one")
    second = _model(tmp_path / "m2", b"model-two")
    assert push(str(first), str(serving), {"model_uri": "m1"}) == (1, True)
    assert push(str(first), str(serving), {"model_uri": "m1"}) == (1, False)
    assert push(str(second), str(serving), {"model_uri": "m2"}) == (2, True)
    assert layout.list_versions(str(serving)) == [1, 2]
    record = layout.push_record(str(serving / "2"))
    assert record["model_uri"] == "m2"
    assert record["content_hash"] == content_hash(str(second))
    assert pushed_content_hash(str(serving / "2")) == record["content_hash"]
    assert (serving / "2" / "variables" / "variables.index").read_bytes() == b"owt-ledom"
    # Nothing is left in staging; the source is untouched.
    assert sorted(os.listdir(serving)) == ["1", "2"]
    assert sorted(p.name for p in first.rglob("*")) == ["saved_model.pb", "variables",
                                                        "variables.index"]


def test_a_taken_version_number_moves_the_push_up(tmp_path):
    serving = tmp_path / "wdbc"
    (serving / "1").mkdir(parents=True)
    (serving / "1" / "partial").write_text("a push in progress elsewhere, not yet complete")
    version, fresh = push(str(_model(tmp_path / "m", b"m")), str(serving), {"model_uri": "m"})
    assert (version, fresh) == (2, True)
    assert json.loads((serving / "2" / "assets.extra" / "bcpipe_push.json").read_text())["model_uri"] == "m"


def test_incomplete_and_staging_dirs_are_not_versions(tmp_path):
    (tmp_path / "3").mkdir()
    (tmp_path / f"{layout.STAGING_PREFIX}4-1").mkdir()
    (tmp_path / f"{layout.STAGING_PREFIX}4-1" / "saved_model.pb").write_bytes(b"x")
    _model(tmp_path / "2", b"x")
    assert layout.list_versions(str(tmp_path)) == [2]
    assert layout.list_versions(str(tmp_path / "missing")) == []
