"""What every benchmark shares: the machine it ran on, its result file and its one line.

A benchmark measures its subject and its baseline in the same run, side by side, and
records both with the ratio and whether the target was met. Nothing here asserts a time.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
# Smoke runs (`make bench` with --quick, the tests) write here instead of over the real results.
RESULTS_ENV = "BCPIPE_BENCH_RESULTS"
WORK_DIR = BENCH_DIR / "work"
# What every result file holds, whatever the benchmark.
FIELDS = ("name", "value", "baseline", "ratio", "target", "met", "higher_is_better", "unit",
          "machine", "recorded_at", "details")


def machine() -> dict:
    """Enough to tell two machines apart when reading a result later."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "hostname": platform.node(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(memory_gib, 1),
        "python": platform.python_version(),
        "os": platform.platform(),
        "git_commit": _git_commit(),
    }


def _git_commit(root: Path = BENCH_DIR.parent) -> str:
    """HEAD, marked `-dirty` when tracked code differs from it: a figure from uncommitted
    code must not claim a commit. The results and their table are left out, since a
    `make bench` rewrites them between one benchmark and the next."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True,
                              check=True).stdout.strip()

    try:
        changed = git("status", "--porcelain", "--untracked-files=no", "--", ".",
                      ":(exclude)bench/results", ":(exclude)bench/README.md")
        return git("rev-parse", "--short", "HEAD") + ("-dirty" if changed else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def ratio_text(ratio: float, target: float) -> str:
    """The ratio to three significant digits, or as many more as it takes not to read as
    the target when it is not (0.99986 against 1 is not "1")."""
    for digits in range(3, 16):
        text = f"{ratio:.{digits}g}"
        if ratio == target or float(text) != target:
            return text
    return repr(ratio)


@dataclass
class Result:
    """One benchmark's outcome. `higher_is_better` says which way the target points:
    a ratio of at least `target` (speed), or at most `target` (memory, overhead)."""

    name: str
    value: float
    baseline: float
    unit: str
    target: float
    higher_is_better: bool = True
    # The ratio is value / baseline unless the benchmark defines it otherwise (say, a
    # difference in milliseconds); then it passes its own.
    ratio: float | None = None
    details: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.ratio is None:
            self.ratio = self.value / self.baseline if self.baseline else float("inf")

    @property
    def met(self) -> bool:
        return self.ratio >= self.target if self.higher_is_better else self.ratio <= self.target

    def line(self) -> str:
        sign = ">=" if self.higher_is_better else "<="
        verdict = "met" if self.met else "MISSED"
        return (f"{self.name}: {self.value:.4g} vs baseline {self.baseline:.4g} {self.unit}, "
                f"ratio {ratio_text(self.ratio, self.target)} (target {sign} {self.target:g}) "
                f"{verdict}")

    def to_json(self) -> dict:
        record = asdict(self)
        record["met"] = self.met
        record["machine"] = machine()
        record["recorded_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        return record


def report(result: Result, results_dir: Path | None = None) -> Path:
    """Print the benchmark's one line and write bench/results/<name>.json (or under
    $BCPIPE_BENCH_RESULTS)."""
    print(result.line(), flush=True)
    results_dir = results_dir or Path(os.environ.get(RESULTS_ENV) or RESULTS_DIR)
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / f"{result.name}.json"
    path.write_text(json.dumps(result.to_json(), indent=2, sort_keys=True) + "\n")
    return path


def read_result(path: Path) -> dict:
    """A result file, refused if it lacks a field every result must hold."""
    record = json.loads(path.read_text())
    missing = [name for name in FIELDS if name not in record]
    if missing:
        raise ValueError(f"{path}: result without {', '.join(missing)}")
    return record


def peak_rss_of(command: list[str], env: dict | None = None, cwd: Path | None = None) -> tuple[
        int, float, subprocess.CompletedProcess]:
    """(peak RSS in bytes, wall seconds, completed process) of a command run in a fresh
    child, so that each measurement has a process of its own.

    The child is a subreaper: a descendant its parent leaves unreaped (py-spy does not
    always wait for the program it profiles) is reaped there, and so counted; otherwise the
    peak would be the profiler's own.
    """
    script = (
        "import ctypes, os, resource, subprocess, sys, time, json\n"
        "if ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0):  # PR_SET_CHILD_SUBREAPER\n"
        "    raise OSError(ctypes.get_errno(), 'prctl(PR_SET_CHILD_SUBREAPER)')\n"
        "start = time.monotonic()\n"
        "code = subprocess.call(sys.argv[1:])\n"
        "while True:\n"
        "    try:\n"
        "        os.wait()\n"
        "    except ChildProcessError:\n"
        "        break\n"
        "wall = time.monotonic() - start\n"
        "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024\n"
        "print(json.dumps({'peak': peak, 'wall': wall, 'code': code}), file=sys.stderr)\n"
        "sys.exit(code)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, *command], env=env, cwd=cwd, capture_output=True,
        text=True,
    )
    measured = json.loads(done.stderr.strip().splitlines()[-1])
    return measured["peak"], measured["wall"], done


def own_peak_rss() -> int:
    """Peak RSS of this process so far, in bytes."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
