"""The IDC archive's layout: `<root>/<patient>/<0|1>/<patient>_idx5_x<X>_y<Y>_class<C>.png`.

Shared by the generator (which writes it) and the ExampleGen (which reads it), so both
agree on names, the mirror folder and what counts as a stray file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# The public archive ships every patient twice; the copy lives under this folder.
MIRROR_DIR = "IDC_regular_ps50_idx5"
MACOS_DIR = "__MACOSX"
PATCH_NAME = re.compile(r"^(?P<patient>\d+)_idx5_x(?P<x>\d+)_y(?P<y>\d+)_class(?P<cls>[01])\.png$")


@dataclass(frozen=True)
class PatchName:
    patient: str
    x: int
    y: int
    label: int

    @property
    def filename(self) -> str:
        return f"{self.patient}_idx5_x{self.x}_y{self.y}_class{self.label}.png"


def parse_patch_name(name: str) -> PatchName | None:
    match = PATCH_NAME.match(name)
    if match is None:
        return None
    return PatchName(match["patient"], int(match["x"]), int(match["y"]), int(match["cls"]))


def is_patient_dir(name: str) -> bool:
    return name.isdigit()
