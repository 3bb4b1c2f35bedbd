"""`bcpipe demo` (what `make demo` runs): every pipeline on the bundled data, then serving."""

from __future__ import annotations

import argparse

from pipeline import cli, config
from pipeline.local_runner import RunPaths, run_pipeline, summary


def main(args: argparse.Namespace) -> int:
    work_dir = args.work_dir
    serving_base = work_dir / "serving"
    codes = {}
    for name in ("wdbc",):
        profile = config.profile(name)
        paths = RunPaths(work_dir, f"bcpipe-{name}", serving_base)
        print(f"== {name}: data {config.default_data_root(profile)}")
        outcome = run_pipeline(profile, data_root=config.default_data_root(profile), paths=paths)
        print(summary(profile, outcome, paths))
        codes[name] = outcome.exit_code
    print(f"== models for TF Serving: {serving_base.resolve()}")
    return max(codes.values()) if any(codes.values()) else cli.EXIT_OK
