"""The Evaluator's baseline is the version clients get, not merely the newest on disk."""

from components.baseline import LATEST_AT_RUN_TIME, NO_BASELINE, resolve_version
from serving.model_store_test import _truncate_variables, push_broken
from tests.serving_models import push


def test_a_broken_newest_version_is_not_the_baseline(tmp_path):
    model_dir = str(tmp_path / "wdbc")
    assert resolve_version(model_dir, LATEST_AT_RUN_TIME) == NO_BASELINE
    push(tmp_path, "wdbc", 1)
    push_broken(tmp_path, 2, _truncate_variables)
    assert resolve_version(model_dir, LATEST_AT_RUN_TIME) == 1
    push(tmp_path, "wdbc", 3)
    assert resolve_version(model_dir, LATEST_AT_RUN_TIME) == 3
