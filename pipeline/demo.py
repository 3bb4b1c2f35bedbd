"""`bcpipe demo` (what `make demo` runs): the WDBC pipeline on the bundled CSV, the IDC
pipeline on an archive generated under the work dir, then the pushed models served and
queried over TF Serving's gRPC API. Re-running takes every component from cache."""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import shutil
import time
from pathlib import Path

from components.idc.archive import parse_patch_name
from components.idc.synth import manifest_path, synthesize
from components.wdbc.importer import CANONICAL_FILE, SPAN_PREFIX, next_span
from pipeline import config, exits
from pipeline.local_runner import report_html, run_pipeline, summary
from pipeline.run_paths import RunPaths
from serving import inputs, layout, smoke
from serving.input_checks import patch_problem

# Worst last: what the demo's one exit code says when its parts end differently.
_SEVERITY = (exits.EXIT_OK, exits.EXIT_NOT_BLESSED, exits.EXIT_REJECTED, exits.EXIT_FAILURE)


def idc_archive(root: Path, demo: config.Demo) -> bool:
    """Generates the demo's IDC archive at `root` unless the one there was made with the
    same settings, as its manifest says; True when reused (the IDC run then stays cached)."""
    manifest = manifest_path(root)
    if root.is_dir() and manifest.is_file():
        made = json.loads(manifest.read_text())
        if (made["seed"], made["patients"]) == (demo.idc_seed, demo.idc_patients) and set(
            made["per_patient"].values()
        ) == {demo.idc_per_patient}:
            return True
    # Made with other settings, or cut short (the manifest is written last): start over.
    shutil.rmtree(root, ignore_errors=True)
    manifest.unlink(missing_ok=True)
    synthesize(root, patients=demo.idc_patients, per_patient=demo.idc_per_patient,
               seed=demo.idc_seed)
    return False


def wdbc_samples(per_class: int) -> inputs.Batch:
    """The first rows of each diagnosis in the bundled CSV's latest span, as
    `bcpipe predict --csv` sends them."""
    root = config.default_data_root(config.WDBC)
    path = root / f"{SPAN_PREFIX}{next_span(root) - 1}" / CANONICAL_FILE
    with path.open(newline="") as handle:
        labels = [row[config.WDBC_LABEL] for row in csv.DictReader(handle)]
    picks = [i for label in ("1", "0") for i in
             [j for j, value in enumerate(labels) if value == label][:per_class]]
    return inputs.wdbc_csv(path).rows(picks)


def idc_samples(archive: Path, per_class: int) -> inputs.Batch:
    """Patches of both classes, as `bcpipe predict --png` sends them; the archive's planted
    defects (class mismatch, empty, undecodable) are passed over."""
    chosen = []
    for label in (0, 1):
        found = (
            path for path in sorted(archive.glob(f"*/{label}/*.png"))
            if (name := parse_patch_name(path.name)) is not None and name.label == label
            and patch_problem(path.read_bytes()) is None
        )
        chosen += itertools.islice(found, per_class)
    return inputs.png_files(chosen)


def _worst(codes) -> int:
    return max(codes, key=_SEVERITY.index)


def main(args: argparse.Namespace) -> int:
    demo = config.DEMO
    work_dir = args.work_dir
    serving_base = work_dir / "serving"
    archive = work_dir / demo.idc_dir
    started = time.monotonic()
    reused = idc_archive(archive, demo)
    print(f"== idc archive {archive}: "
          + ("reused (manifest matches)" if reused else
             f"generated in {time.monotonic() - started:.1f}s")
          + f", {demo.idc_patients} patients x {demo.idc_per_patient} patches, "
          f"seed {demo.idc_seed}")
    data_roots = {"wdbc": config.default_data_root(config.WDBC), "idc": archive}
    train_steps = {"idc": demo.idc_train_steps}
    runs = {}
    for name in demo.pipelines:
        profile = config.profile(name)
        paths = RunPaths(work_dir, f"bcpipe-{name}", serving_base)
        print(f"== {name}: data {data_roots[name].resolve()}")
        began = time.monotonic()
        outcome = run_pipeline(profile, data_root=data_roots[name], paths=paths,
                               train_steps=train_steps.get(name))
        print(summary(profile, outcome, paths))
        runs[name] = (profile, paths, outcome, time.monotonic() - began)

    samples = {config.WDBC.model_name: wdbc_samples(demo.wdbc_samples_per_class),
               config.IDC.model_name: idc_samples(archive, demo.idc_samples_per_class)}
    serving_code = smoke.run(serving_base, samples)

    print("== demo finished")
    print(f"work dir:     {work_dir.resolve()}")
    print(f"idc archive:  {archive.resolve()}")
    for name, (profile, paths, outcome, took) in runs.items():
        versions = layout.list_versions(str(paths.serving_model_dir(profile)))
        print(f"{name}:")
        print(f"  exit code   {outcome.exit_code} (run {outcome.run_id}, {took:.0f}s)")
        print(f"  metadata    {paths.metadata_path.resolve()}")
        print(f"  report      {report_html(outcome) or 'none written'}")
        print(f"  served as   {profile.model_name}, versions {versions or 'none'}")
    print(f"serving base: {serving_base.resolve()}")
    print(f"serving smoke exit code {serving_code}")
    code = _worst([*(outcome.exit_code for _, _, outcome, _ in runs.values()), serving_code])
    print(f"exit code {code}")
    return code
