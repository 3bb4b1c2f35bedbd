"""The Evaluator's baseline is the version clients get, not merely the newest on disk."""

from components.baseline import LATEST_AT_RUN_TIME, NO_BASELINE, resolve_version
from tests.serving_models import push, push_broken, truncate_variables


def test_a_broken_newest_version_is_not_the_baseline(tmp_path):
    model_dir = str(tmp_path / "wdbc")
    assert resolve_version(model_dir, LATEST_AT_RUN_TIME) == NO_BASELINE
    push(tmp_path, "wdbc", 1)
    push_broken(tmp_path, 2, truncate_variables)
    assert resolve_version(model_dir, LATEST_AT_RUN_TIME) == 1
    push(tmp_path, "wdbc", 3)
    assert resolve_version(model_dir, LATEST_AT_RUN_TIME) == 3
