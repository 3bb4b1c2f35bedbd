import pytest

from bench import common


@pytest.fixture
def run_quick(tmp_path, monkeypatch):
    """Runs a benchmark module at smoke size into a scratch results directory and returns
    what it wrote, by result name."""
    monkeypatch.setenv(common.RESULTS_ENV, str(tmp_path))

    def run(module) -> dict[str, dict]:
        assert module.main(["--quick"]) == 0
        return {path.stem: common.read_result(path) for path in tmp_path.glob("*.json")}

    return run
