"""The Evaluator's baseline: the model version TF Serving is serving now.

Open-source KFP cannot run TFX resolver nodes, so instead of LatestBlessedModelStrategy
the baseline is read from the push destination, which is what clients actually get: the
newest version that loads, by the rule the server follows (a broken newer one is passed over).
"""


import os

from tfx import v1 as tfx

from components.model_files import copy_tree
from serving import layout
from serving.loadable import latest_servable_version

NO_BASELINE = 0
# Resolve at run time, for orchestrators that compile once and run many times.
LATEST_AT_RUN_TIME = -1
SERVING_MODEL_DIR = "Format-Serving"


def resolve_version(model_dir: str, requested: int) -> int:
    if requested == LATEST_AT_RUN_TIME:
        return latest_servable_version(model_dir) or NO_BASELINE
    if requested != NO_BASELINE and requested not in layout.list_versions(model_dir):
        raise FileNotFoundError(f"served version {requested} is gone from {model_dir}")
    return requested


@tfx.dsl.components.component
def ServedBaseline(
    baseline: tfx.dsl.components.OutputArtifact[tfx.types.standard_artifacts.Model],
    serving_model_dir: tfx.dsl.components.Parameter[str],
    served_version: tfx.dsl.components.Parameter[int],
) -> None:
    """served_version pins the version seen when the run was built (so caching is right);
    0 means nothing was served, -1 means look now."""
    version = resolve_version(serving_model_dir, served_version)
    baseline.set_int_custom_property("served_version", version)
    if version != NO_BASELINE:
        source = layout.version_dir(serving_model_dir, version)
        copy_tree(source, os.path.join(baseline.uri, SERVING_MODEL_DIR))
        baseline.set_string_custom_property("served_uri", source)
