"""Where a run's code and artifacts came from: git commit, package versions, content hashes."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

from components.model_files import content_hash

# Set in the container image (no .git inside it) by the build from the same commit.
CODE_VERSION_ENV = "BCPIPE_CODE_VERSION"
UNKNOWN = "unknown"
PACKAGES = (
    "bcpipe", "tfx", "tensorflow", "tf-keras", "tensorflow-transform",
    "tensorflow-model-analysis", "tensorflow-data-validation", "tfx-bsl", "ml-metadata",
    "apache-beam", "numpy", "scikit-learn",
)


def _git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, check=True, timeout=30
    ).stdout


def code_version(root: Path) -> str:
    """The commit the pipeline was built from, marked `+dirty` when the tree had
    uncommitted changes (then the commit alone does not reproduce the run)."""
    if os.environ.get(CODE_VERSION_ENV):
        return os.environ[CODE_VERSION_ENV]
    try:
        commit = _git(root, "rev-parse", "HEAD").strip()
        dirty = _git(root, "status", "--porcelain", "--untracked-files=normal").strip()
    except (OSError, subprocess.SubprocessError):
        return UNKNOWN
    return f"{commit}+dirty" if dirty else commit


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def artifact_entry(artifact, *, what: str, subdir: str = "") -> dict:
    """URI, metadata id and content hash of one artifact (or a folder inside it)."""
    root = os.path.join(artifact.uri, subdir) if subdir else artifact.uri
    return {
        "what": what,
        "type": artifact.type_name,
        "artifact_id": artifact.id,
        "uri": root,
        "content_hash": content_hash(root),
    }
