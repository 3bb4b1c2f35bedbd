"""The commands README.md shows, run as written, in README's order, in a temporary directory
holding a link to this checkout's `.venv` and `data/`.

What a reader fills in is made first: `path/to/data.csv` (the bundled rows in the common
data.csv layout), `a.png` and `b.png` (two patches). `serve` runs in the background for the
commands after it. Left out: `make ...` (the install and this very suite) and the full-size
`synth-idc` (1.4 GB of patches; bench/scale.py generates it); both are checked to be still
in README, so that this list stays true. `submit` has no cluster here: it must say so in one
line.
"""

import os
import re
import signal
import subprocess
from pathlib import Path

import pytest

from components.wdbc.importer_test import _bundled_rows, _write_kaggle
from pipeline.config import PROJECT_ROOT
from pipeline.exits import EXIT_FAILURE, EXIT_OK
from serving.commands import listening_address
from tests.serving_models import png_patches

pytestmark = pytest.mark.e2e

README = PROJECT_ROOT / "README.md"
NOT_RUN = ("make demo", "make test", "bcpipe data synth-idc my-idc-full/")
# What a command must end with, where that is not success.
EXPECTED = {"bcpipe submit": EXIT_FAILURE}


def readme_commands() -> list[str]:
    """Each shell command in README's indented blocks, continuation lines joined, trailing
    comments dropped."""
    commands, pending = [], ""
    for line in README.read_text().splitlines():
        if not line.startswith("    ") or not (pending or re.match(r"\s+(make|\S*bcpipe|\w+=)",
                                                                    line)):
            continue
        text = line.strip().split("  #")[0].strip()
        if text.endswith("\\"):
            pending += text[:-1]
            continue
        commands.append(pending + text)
        pending = ""
    return commands


def _shell(command: str, cwd: Path, **kwargs):
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1"}
    return subprocess.Popen(["bash", "-c", command], cwd=cwd, env=env, text=True, **kwargs)


def test_every_readme_command_works_as_written(tmp_path):
    commands = readme_commands()
    for left_out in NOT_RUN:
        assert any(left_out in c for c in commands), f"README no longer shows {left_out!r}"
    (tmp_path / ".venv").symlink_to(PROJECT_ROOT / ".venv")
    (tmp_path / "data").symlink_to(PROJECT_ROOT / "data")
    (tmp_path / "path" / "to").mkdir(parents=True)
    _write_kaggle(tmp_path / "path" / "to" / "data.csv", _bundled_rows())
    for name, png in zip(("a.png", "b.png"), png_patches(2, seed=4), strict=True):
        (tmp_path / name).write_bytes(png)

    server = None
    try:
        for command in commands:
            if any(left_out in command for left_out in NOT_RUN):
                continue
            if " serve " in command:
                server = _shell(command, tmp_path, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, start_new_session=True)
                assert listening_address(server.stdout), command
                continue
            done = _shell(command, tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            out, err = done.communicate(timeout=1800)
            expected = next((code for key, code in EXPECTED.items() if key in command), EXIT_OK)
            assert done.returncode == expected, f"{command}\n{out[-3000:]}\n{err[-3000:]}"
            assert "Traceback" not in err, f"{command}\n{err[-3000:]}"
            if expected != EXIT_OK:
                assert len(err.strip().splitlines()) == 1, f"{command}\n{err}"
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=60)
