"""`--cluster-config FILE`: what one cluster gives a pipeline's steps, set by its platform
team at compile or submit time instead of by editing pipeline/config.py.

The file is YAML; each section overrides the fields of one typed setting of the profile and
leaves the rest as configured (every key may be left out):

    trainer:                  # Resources: the Trainer's pod
      cpu: "8"
      memory: 32Gi
      gpus: 2
      gpu_type: nvidia.com/gpu            # KFP's accelerator type (a resource name)
      vertex_accelerator: NVIDIA_L4       # Vertex AI's accelerator model
      gpu_node_selector: {cloud.google.com/gke-accelerator: nvidia-l4}
      gpu_tolerations: [{key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}]
    beam:                     # Resources of every Beam step: cpu (whole cores), memory
      cpu: "4"
      memory: 16Gi
    staging:                  # Staging: room for the inputs KFP's launcher copies in
      sizes: {examples: 3Gi, transformed_examples: 6Gi}
      other: 64Mi
      headroom: 1.5
    serving_volume:           # ServingVolume: a claim holding the serving base, if not gs://
      claim: bcpipe-models
      path: /models

Node placement (gpu_node_selector, gpu_tolerations) applies to a Trainer that asks for GPUs.
"""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path

import yaml

from pipeline import config, exits

# Section of the file -> the Profile field it overrides.
SECTIONS = {"trainer": "trainer_resources", "beam": "beam_resources", "staging": "staging",
            "serving_volume": "serving_volume"}


def apply(path: Path, profile: config.Profile) -> config.Profile:
    """`profile` with what the file at `path` sets; a UsageError names what is wrong."""
    try:
        document = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as err:
        raise exits.UsageError(f"--cluster-config {path}: {err}") from None
    where = f"--cluster-config {path}"
    sections = _mapping(document or {}, where, SECTIONS)
    changes = {
        SECTIONS[name]: _override(getattr(profile, SECTIONS[name]), values, f"{where}: {name}")
        for name, values in sections.items()
    }
    return _checked(lambda: dataclasses.replace(profile, **changes), where)


def _mapping(value, where: str, known) -> dict:
    if not isinstance(value, dict):
        raise exits.UsageError(f"{where}: expected a mapping, got {value!r}")
    unknown = sorted(set(map(str, value)) - set(known))
    if unknown:
        raise exits.UsageError(f"{where}: unknown {', '.join(unknown)}; "
                               f"known: {', '.join(sorted(known))}")
    return value


def _override(current, values, where: str):
    """A copy of the dataclass `current` with `values` (from YAML) converted to its fields'
    types and checked by its own __post_init__."""
    return _checked(lambda: dataclasses.replace(current, **_fields(type(current), values, where)),
                    where)


def _fields(cls, values, where: str) -> dict:
    hints = typing.get_type_hints(cls)
    values = _mapping(values, where, hints)
    return {k: _convert(hints[k], v, f"{where}.{k}") for k, v in values.items()}


def _checked(make, where: str):
    try:
        return make()
    except (TypeError, ValueError) as err:
        raise exits.UsageError(f"{where}: {err}") from None


def _convert(hint, value, where: str):
    scalar = not isinstance(value, bool)
    if hint is str and scalar and isinstance(value, (str, int, float)):
        return str(value)  # `cpu: 8` is as good as `cpu: "8"`
    if hint is int and scalar and isinstance(value, int):
        return value
    if hint is float and scalar and isinstance(value, (int, float)):
        return float(value)
    item = typing.get_args(hint)[0] if typing.get_origin(hint) is tuple else None
    if item == tuple[str, str] and isinstance(value, dict):  # labels or sizes by name
        return tuple((str(k), _convert(str, v, f"{where}.{k}")) for k, v in value.items())
    if dataclasses.is_dataclass(item) and isinstance(value, list):
        return tuple(
            _checked(lambda v=v, w=f"{where}[{i}]": item(**_fields(item, v, w)), f"{where}[{i}]")
            for i, v in enumerate(value)
        )
    wanted = {str: "a string", int: "a whole number", float: "a number"}.get(
        hint, "a mapping" if item == tuple[str, str] else "a list of mappings")
    raise exits.UsageError(f"{where}: {value!r} is not {wanted}")
