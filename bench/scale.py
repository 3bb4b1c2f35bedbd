"""Benchmarks 3 and 4: `bcpipe run idc` at a tenth of the archive and at full scale.

Each size runs from an empty work dir (nothing from cache) in a process of its own, for one
epoch of training. Memory: peak RSS of the full-scale run over the tenth's (target <= 1.3).
Full scale: the run finishes, with the wall time of each component, and py-spy samples the
run so the slowest component's time can be split by where it goes.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import sys
from collections import Counter
from pathlib import Path

from bench import common
from components import split_assignment
from pipeline import config

SMALL, FULL = 27_752, 277_524
# The real archive: 279 patients; the tenth keeps patches per patient alike (about 990).
PATIENTS = {SMALL: 28, FULL: 279}
# A smaller archive would be refused at the gate: its blessing split needs this many.
_FEWEST_PATIENTS = split_assignment.patients_needed(
    config.IDC.split_buckets, config.IDC.blessing_split, config.IDC.evidence.patients)
SEED = 7
MEMORY_TARGET = 1.3
_PROGRESS = re.compile(r"^  (\S+)\s+(done in ([\d.]+)s|cached)$")
# Where each component's own code runs; a py-spy stack holding it belongs to that component.
_COMPONENT_CODE = {
    "IdcExampleGen": "components/idc/example_gen.py",
    "SplitCheck": "components/split_check.py",
    "StatisticsGen": "tfx/components/statistics_gen/executor.py",
    "SchemaImporter": "components/schema_importer.py",
    "ExampleValidator": "tfx/components/example_validator/executor.py",
    "ValidationGate": "components/validation_gate.py",
    "Transform": "tfx/components/transform/executor.py",
    "Trainer": "tfx/components/trainer/executor.py",
    "Evaluator": "tfx/components/evaluator/executor.py",
    "Pusher": "components/pusher.py",
    "ReviewReport": "components/review_report.py",
}


def archive(patches: int) -> Path:
    """A generated archive of this size under bench/work, made once and reused."""
    root = common.WORK_DIR / f"idc-{patches}"
    manifest = root.parent / f"{root.name}.manifest.json"
    if manifest.exists() and json.loads(manifest.read_text())["patches_kept"] == patches:
        return root
    shutil.rmtree(root, ignore_errors=True)
    from components.idc.synth import synthesize

    patients = PATIENTS.get(patches, max(_FEWEST_PATIENTS, patches // 990))
    synthesize(root, patients=patients, total=patches, seed=SEED)
    return root


def one_epoch(patches: int) -> int:
    """Train steps for one pass over the train split (its share of the profile's split
    proportions; whole patients, so about that share of the patches), in whole epochs of the
    configured length so that no partial epoch is added."""
    buckets = dict(config.IDC.split_buckets)
    share = buckets[config.TRAIN_SPLIT] / sum(buckets.values())
    steps = math.ceil(patches * share / config.IDC.training.batch_size)
    per_epoch = config.IDC.training.steps_per_epoch
    return math.ceil(steps / per_epoch) * per_epoch


def component_times(stdout: str) -> dict[str, float]:
    """Seconds per component from the run's progress lines."""
    times = {}
    for line in stdout.splitlines():
        match = _PROGRESS.match(line)
        if match and match.group(3):
            times[match.group(1)] = float(match.group(3))
    return times


def hot_spots(raw_profile: Path, component: str, top: int = 12) -> dict:
    """Where `component` spent its sampled time: the share of its samples in each frame
    (self), and under each frame (inclusive) leaving out the wrappers every sample
    passes through; the heaviest first."""
    marker = _COMPONENT_CODE.get(component, "")
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in raw_profile.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        owned = [i for i, frame in enumerate(frames) if marker and marker in frame]
        if not owned:
            continue
        total += int(count)
        own[frames[-1]] += int(count)
        for frame in set(frames[owned[0] + 1:]):
            inclusive[frame] += int(count)

    def shares(counter, keep=lambda share: True):
        rows = [(frame, n / total) for frame, n in counter.most_common()]
        return [{"frame": f, "share": round(x, 3)} for f, x in rows if keep(x)][:top]

    return {
        "component": component,
        "samples": total,
        "self": shares(own) if total else [],
        "inclusive": shares(inclusive, lambda share: share < 0.8) if total else [],
    }


def run_once(patches: int, work: Path, *, profile: bool) -> dict:
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    steps = one_epoch(patches)
    command = [
        str(Path(sys.executable).parent / "bcpipe"), "run", "idc", "--input",
        str(archive(patches)), "--work-dir", str(work), "--train-steps", str(steps),
    ]
    raw = work / "py-spy.txt"
    if profile:
        command = [str(Path(sys.executable).parent / "py-spy"), "record", "--format", "raw",
                   "--rate", "20", "--subprocesses", "--output", str(raw), "--", *command]
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    peak, wall, done = common.peak_rss_of(command, env=env)
    (work / "stdout.txt").write_text(done.stdout)
    if done.returncode != 0:
        print(done.stdout[-3000:], done.stderr[-3000:], sep="\n", file=sys.stderr)
    times = component_times(done.stdout)
    record = {
        "patches": patches, "train_steps": steps, "exit_code": done.returncode,
        "peak_rss_bytes": peak, "wall_seconds": round(wall, 1), "component_seconds": times,
    }
    if profile and raw.exists() and times:
        record["profile"] = hot_spots(raw, max(times, key=times.get))
    print(json.dumps(record), flush=True)
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--small", type=int, default=SMALL)
    parser.add_argument("--full", type=int, default=FULL)
    parser.add_argument("--quick", action="store_true", help="2,000 and 6,000 patches")
    args = parser.parse_args(argv)
    small, full = (2_000, 6_000) if args.quick else (args.small, args.full)
    runs = {size: run_once(size, common.WORK_DIR / f"scale-{size}", profile=size == full)
            for size in (small, full)}
    gib = 2**30
    common.report(common.Result(
        name="memory_scaling",
        value=runs[full]["peak_rss_bytes"] / gib,
        baseline=runs[small]["peak_rss_bytes"] / gib,
        unit="GiB peak RSS",
        target=MEMORY_TARGET,
        higher_is_better=False,
        details={"runs": runs, "note": f"{full:,} vs {small:,} patches, one epoch each"},
    ))
    # Not blessed (4) is a finished run too; 1 is a failure, 3 a rejection of the data.
    finished = runs[full]["exit_code"] in (0, 4)
    common.report(common.Result(
        name="full_scale",
        value=runs[full]["wall_seconds"],
        baseline=runs[small]["wall_seconds"],
        unit="s wall",
        # Finishing is the target; the ratio (full over tenth) says how the time scales.
        target=1.0,
        ratio=1.0 if finished else 0.0,
        details={"finished": finished, "exit_code": runs[full]["exit_code"],
                 "component_seconds": runs[full]["component_seconds"],
                 "time_ratio_full_over_tenth": round(
                     runs[full]["wall_seconds"] / runs[small]["wall_seconds"], 2),
                 "profile": runs[full].get("profile")},
    ))
    return 0


if __name__ == "__main__":
    sys.exit(main())
