import json

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
    written = json.loads((tmp_path / "results" / "lean.json").read_text())
    assert written["ratio"] == 2.0 and written["met"] is False
    assert {"name", "value", "baseline", "ratio", "target", "met", "machine"} <= set(written)

    readme = tmp_path / "README.md"
    readme.write_text(f"# intro\n{run_all.BEGIN}\nold table\n{run_all.END}\nafter\n")
    run_all.rewrite_readme(tmp_path / "results", readme)
    text = readme.read_text()
    assert "old table" not in text and text.startswith("# intro") and text.endswith("after\n")
    assert "| speedy | 30 | 60 | items/s | 0.5 | >= 0.5 | yes |" in text
    assert "| lean | 2 | 1 | GiB | 2 | <= 1.3 | **no** |" in text
    assert f"{written['machine']['cores']} cores" in text
