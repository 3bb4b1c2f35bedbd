"""`make bench`: every benchmark in bench/, each in a process of its own, then the table.

A benchmark is a module here with a `main(argv)`; it prints its one line and writes its
result JSON. After the runs, the table in bench/README.md is rewritten from
bench/results/*.json, so the README always shows the latest figures and the machine they
came from. `--quick` runs each at smoke size into a scratch directory and leaves the real
results and the README alone.
"""

from __future__ import annotations

import argparse
import ast
import os
import subprocess
import sys
import time
from pathlib import Path

from bench import common

README = common.BENCH_DIR / "README.md"
BEGIN, END = "<!-- results: written by bench/run_all.py -->", "<!-- /results -->"
_NOT_BENCHMARKS = {"__init__", "common", "run_all"}


def benchmarks() -> list[str]:
    """Module names in bench/ that define `main`, in file order, tests left out."""
    names = []
    for path in sorted(common.BENCH_DIR.glob("*.py")):
        if path.stem in _NOT_BENCHMARKS or path.stem.endswith("_test"):
            continue
        tree = ast.parse(path.read_text())
        if any(isinstance(node, ast.FunctionDef) and node.name == "main" for node in tree.body):
            names.append(path.stem)
    return names


def _number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"


def table(results_dir: Path) -> str:
    """The Markdown table of every result JSON, and which of them ran on which machine at
    which commit (figures from different machines sit in one table)."""
    records = [common.read_result(p) for p in sorted(results_dir.glob("*.json"))]
    rows = [
        "| benchmark | value | baseline | unit | ratio | target | met | recorded |",
        "| --- | ---: | ---: | --- | ---: | --- | --- | --- |",
    ]
    machines = {}
    for r in records:
        sign = ">=" if r["higher_is_better"] else "<="
        ratio = common.ratio_text(r["ratio"], r["target"])
        rows.append(
            f"| {r['name']} | {_number(r['value'])} | {_number(r['baseline'])} | {r['unit']} "
            f"| {ratio} | {sign} {r['target']:g} | {'yes' if r['met'] else '**no**'} "
            f"| {r['recorded_at'][:16]} |"
        )
        m = r["machine"]
        described = (f"{m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, "
                     f"Python {m['python']}, {m['os']}")
        machines.setdefault(described, {}).setdefault(m["git_commit"], []).append(r["name"])
    lines = rows + [""]
    for described, commits in machines.items():
        ran = "; ".join(f"{', '.join(names)} (code at {commit})"
                        for commit, names in commits.items())
        lines.append(f"Machine: {described}: {ran}.")
    return "\n".join(lines)


def rewrite_readme(results_dir: Path, readme: Path = README) -> None:
    text = readme.read_text()
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    readme.write_text(text[:start] + "\n" + table(results_dir) + "\n" + text[end:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smoke sizes, scratch results")
    parser.add_argument("--table", action="store_true",
                        help="only rewrite the README table from the results there are")
    parser.add_argument("only", nargs="*", help="benchmark names (default: all)")
    args = parser.parse_args(argv)
    if args.table:
        rewrite_readme(common.RESULTS_DIR)
        return 0
    names = args.only or benchmarks()
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    if args.quick:
        env[common.RESULTS_ENV] = str(common.WORK_DIR / "quick-results")
    failed = []
    for name in names:
        print(f"== bench.{name}", flush=True)
        start = time.monotonic()
        code = subprocess.call(
            [sys.executable, "-m", f"bench.{name}", *(["--quick"] if args.quick else [])],
            env=env, cwd=common.BENCH_DIR.parent,
        )
        print(f"   exit {code} after {time.monotonic() - start:.0f}s", flush=True)
        if code:
            failed.append(name)
    if not args.quick:
        rewrite_readme(common.RESULTS_DIR)
        print(f"table rewritten in {README}")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
