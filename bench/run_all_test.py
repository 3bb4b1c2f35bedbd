import json
import subprocess

import pytest

from bench import common, run_all


def test_discovers_benchmark_modules_only():
    names = run_all.benchmarks()
    assert "scale" in names
    assert not {"common", "run_all", "__init__"} & set(names)
    assert not [n for n in names if n.endswith("_test")]


def test_readme_table_is_rewritten_from_results(tmp_path, monkeypatch):
    monkeypatch.setenv(common.RESULTS_ENV, str(tmp_path / "results"))
    common.report(common.Result(name="speedy", value=30.0, baseline=60.0, unit="items/s",
                                target=0.5))
    common.report(common.Result(name="lean", value=2.0, baseline=1.0, unit="GiB",
                                target=1.3, higher_is_better=False))
    written = common.read_result(tmp_path / "results" / "lean.json")
    assert written["ratio"] == 2.0 and written["met"] is False

    readme = tmp_path / "README.md"
    readme.write_text(f"# intro\n{run_all.BEGIN}\nold table\n{run_all.END}\nafter\n")
    run_all.rewrite_readme(tmp_path / "results", readme)
    text = readme.read_text()
    assert "old table" not in text and text.startswith("# intro") and text.endswith("after\n")
    assert "| speedy | 30 | 60 | items/s | 0.5 | >= 0.5 | yes |" in text
    assert "| lean | 2 | 1 | GiB | 2 | <= 1.3 | **no** |" in text
    machine = written["machine"]
    assert f"{machine['cores']} cores" in text
    assert f"lean, speedy (code at {machine['git_commit']})." in text


def test_a_missed_ratio_never_reads_as_its_target():
    assert common.ratio_text(0.99986, 1.0) == "0.9999"
    assert common.ratio_text(0.5, 0.5) == "0.5"
    assert common.ratio_text(0.70843, 0.8) == "0.708"
    missed = common.Result(name="auc", value=0.99486, baseline=0.99501, unit="", target=1.0)
    assert "ratio 0.9998 (target >= 1) MISSED" in missed.line()


def test_a_result_without_a_required_field_is_refused(tmp_path):
    common.report(common.Result(name="speedy", value=3.0, baseline=6.0, unit="items/s",
                                target=0.5), tmp_path)
    path = tmp_path / "speedy.json"
    record = json.loads(path.read_text())
    del record["baseline"], record["machine"]
    path.write_text(json.dumps(record))
    with pytest.raises(ValueError, match="without baseline, machine"):
        common.read_result(path)


def test_recorded_commit_is_marked_dirty_only_by_code_changes(tmp_path):
    def git(*args):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
                       cwd=tmp_path, check=True, capture_output=True)

    (tmp_path / "bench" / "results").mkdir(parents=True)
    for path in ("model.py", "bench/results/q.json", "bench/README.md"):
        (tmp_path / path).write_text("1")
    git("init", "-q")
    git("add", ".")
    git("commit", "-q", "-m", "start")
    head = common._git_commit(tmp_path)
    assert head != "unknown" and not head.endswith("-dirty")
    # What a benchmark run itself rewrites leaves the code clean...
    (tmp_path / "bench" / "results" / "q.json").write_text("2")
    (tmp_path / "bench" / "README.md").write_text("2")
    (tmp_path / "scratch.txt").write_text("untracked")
    assert common._git_commit(tmp_path) == head
    # ...a change to the code does not.
    (tmp_path / "model.py").write_text("2")
    assert common._git_commit(tmp_path) == f"{head}-dirty"
    assert common._git_commit(tmp_path / "nowhere") == "unknown"
