"""Where a local run keeps its artifacts, metadata and logs, and where it pushes models.

Apart from the runner so that reading a run back (`bcpipe report`, `bcpipe lineage`) does
not import TFX's components.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipeline import config


@dataclass(frozen=True)
class RunPaths:
    work_dir: Path
    pipeline_name: str
    serving_base: Path

    @property
    def root(self) -> Path:
        return self.work_dir / self.pipeline_name

    @property
    def pipeline_root(self) -> Path:
        return self.root / "artifacts"

    @property
    def metadata_path(self) -> Path:
        return self.root / "metadata.sqlite"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def lock(self) -> Path:
        """Held by the run using this root; a second run at once is refused."""
        return self.root / "run.lock"

    def serving_model_dir(self, profile: config.Profile) -> Path:
        return self.serving_base / profile.model_name
