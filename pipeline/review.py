"""`bcpipe report` and `bcpipe lineage`: a run's review report and a served model's origins,
both read back from the metadata store of a local work dir."""

from __future__ import annotations

import argparse
import json
import sys

from pipeline import config, exits, metadata
from pipeline.run_paths import RunPaths

LATEST = "latest"


def _paths(work_dir, profile: config.Profile, serving_base=None) -> RunPaths:
    return RunPaths(work_dir=work_dir, pipeline_name=f"bcpipe-{profile.name}",
                    serving_base=serving_base or work_dir / "serving")


def report_main(args: argparse.Namespace) -> int:
    """Renders a run's stored report (report.json) again into --out."""
    from components.report import files

    paths = _paths(args.work_dir, config.profile(args.pipeline))
    if not paths.metadata_path.is_file():
        raise exits.UsageError(
            f"no runs of {paths.pipeline_name} under --work-dir {args.work_dir} "
            f"(no metadata store at {paths.metadata_path})"
        )
    store = metadata.open_store(paths.metadata_path)
    runs = metadata.run_ids(store, paths.pipeline_name)
    if not runs:
        raise exits.UsageError(f"no runs of {paths.pipeline_name} in {paths.metadata_path}")
    run_id = runs[-1] if args.run == LATEST else args.run
    if run_id not in runs:
        raise exits.UsageError(f"no run {run_id!r}; runs: {', '.join(runs[-5:])} ...")
    node = metadata.node_runs(store, run_id).get("ReviewReport")
    if node is None or not node.outputs.get("report") or node.state not in ("COMPLETE",
                                                                             "CACHED"):
        state = node.state if node else "never started"
        print(f"bcpipe: run {run_id} has no review report (ReviewReport: {state})",
              file=sys.stderr)
        return exits.EXIT_FAILURE
    report = files.read(node.outputs["report"][0].uri)
    written = files.write(report, str(args.out), table_rows=config.REVIEW.max_table_rows)
    print(f"review report of run {run_id} ({report['decision']['status']}):")
    for path in written.values():
        print(f"  {path}")
    return exits.EXIT_OK


def _profile_of_model(model_name: str) -> config.Profile:
    for profile in config.PROFILES.values():
        if profile.model_name == model_name:
            return profile
    names = sorted(p.model_name for p in config.PROFILES.values())
    raise exits.UsageError(f"unknown model {model_name!r}; choose from {names}")


def lineage_main(args: argparse.Namespace) -> int:
    from pipeline import lineage
    from serving import layout

    profile = _profile_of_model(args.model)
    paths = _paths(args.work_dir, profile, args.serving_base)
    version_dir = layout.version_dir(str(paths.serving_model_dir(profile)), args.version)
    if args.version not in layout.list_versions(str(paths.serving_model_dir(profile))):
        raise exits.UsageError(f"no version {args.version} under {paths.serving_model_dir(profile)}")
    try:
        found = lineage.trace(metadata.open_store(paths.metadata_path), version_dir)
    except (lineage.LineageError, FileNotFoundError) as err:
        print(f"bcpipe: cannot trace {args.model} version {args.version}: {err}",
              file=sys.stderr)
        return exits.EXIT_FAILURE
    if args.json:
        print(json.dumps(found, indent=2, sort_keys=True))
    else:
        print(lineage.describe(args.model, args.version, found))
    return exits.EXIT_OK
