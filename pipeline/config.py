"""Every tunable of bcpipe in one typed place.

Profiles say what differs between the two pipelines; everything else (paths, runner
arguments) is an argument of `create_pipeline`. Values here are the defaults the CLI and the
Kubeflow compiler start from; callers override with `dataclasses.replace`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SCHEMA_DIR = PROJECT_ROOT / "schema"
DATA_DIR = PROJECT_ROOT / "data"

# WDBC: ten measures, each summarised as mean, standard error and worst (UCI column order).
WDBC_MEASURES = (
    "radius",
    "texture",
    "perimeter",
    "area",
    "smoothness",
    "compactness",
    "concavity",
    "concave_points",
    "symmetry",
    "fractal_dimension",
)
WDBC_STATS = ("mean", "se", "worst")
WDBC_FEATURES = tuple(f"{m}_{s}" for s in WDBC_STATS for m in WDBC_MEASURES)
WDBC_LABEL = "diagnosis"
WDBC_ID = "id"

IDC_LABEL = "label"
IDC_PATIENT = "patient_id"
IDC_PATCH_SIZE = 50


@dataclass(frozen=True)
class Thresholds:
    """What a candidate must reach on the eval split to be blessed."""

    accuracy: float
    auc: float
    sensitivity: float
    specificity: float
    # The candidate's AUC may fall at most this far below the served model's.
    auc_change_tolerance: float = 1e-9


@dataclass(frozen=True)
class Training:
    """Hyperparameters handed to run_fn through the Trainer's custom_config."""

    batch_size: int
    train_steps: int
    steps_per_epoch: int
    learning_rate: float
    dropout: float
    early_stopping_patience: int
    # The served `label` is 1 where P(malignant) >= a threshold chosen on the eval split
    # as the highest one that still reaches this sensitivity.
    target_sensitivity: float
    seed: int = 42
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Resources:
    """What the Trainer pod asks Kubernetes for."""

    cpu: str = "4"
    memory: str = "16G"
    gpus: int = 0
    gpu_type: str = "nvidia.com/gpu"


@dataclass(frozen=True)
class Profile:
    """What differs between the `idc` and `wdbc` pipelines."""

    name: str
    model_name: str
    label_key: str
    partition_key: str
    schema_dir: Path
    preprocessing_fn: str
    run_fn: str
    thresholds: Thresholds
    training: Training
    example_gen: str = "csv"
    split_buckets: tuple[tuple[str, int], ...] = (("train", 8), ("eval", 1), ("test", 1))
    # Feature slices for the Evaluator, each a tuple of feature keys (empty = overall).
    slices: tuple[tuple[str, ...], ...] = ((),)
    trainer_resources: Resources = Resources()

    @property
    def schema_file(self) -> Path:
        return self.schema_dir / "schema.pbtxt"

    def custom_config(self) -> dict:
        """JSON-serialisable settings the in-pod run_fn reads back."""
        return {
            "label_key": self.label_key,
            "model_name": self.model_name,
            "training": dataclasses.asdict(self.training),
        }


WDBC = Profile(
    name="wdbc",
    model_name="wdbc",
    label_key=WDBC_LABEL,
    partition_key=WDBC_ID,
    schema_dir=SCHEMA_DIR / "wdbc",
    preprocessing_fn="components.wdbc.preprocessing.preprocessing_fn",
    run_fn="components.wdbc.model.run_fn",
    thresholds=Thresholds(accuracy=0.93, auc=0.97, sensitivity=0.90, specificity=0.90),
    training=Training(
        batch_size=32,
        train_steps=1500,
        steps_per_epoch=15,
        learning_rate=1e-3,
        dropout=0.3,
        early_stopping_patience=15,
        target_sensitivity=0.95,
    ),
)

@dataclass(frozen=True)
class Beam:
    """Beam runner arguments; the same steps run on DirectRunner here and on Dataflow,
    Flink or Spark in a cluster with only these arguments changed."""

    direct_running_mode: str = "in_memory"
    direct_num_workers: int = 1

    def direct_args(self) -> list[str]:
        return [
            "--runner=DirectRunner",
            f"--direct_running_mode={self.direct_running_mode}",
            f"--direct_num_workers={self.direct_num_workers}",
        ]


BEAM = Beam()


@dataclass(frozen=True)
class Serving:
    """`bcpipe serve`, the gRPC client and the TF Serving config files it writes."""

    # The models TF Serving's models.config lists (DESIGN.md, "Two pipelines").
    models: tuple[str, ...] = ("idc_patch", "wdbc")
    port: int = 8500
    # TF Serving polls every second by default; a push is one atomic rename, so 2 s is plenty.
    poll_seconds: float = 2.0
    server_threads: int = 16
    # gRPC's 4 MB default is too small for a batch of image patches.
    max_message_bytes: int = 64 * 1024 * 1024
    shutdown_grace_seconds: float = 10.0
    # Each warmup record is replayed this often before a version becomes AVAILABLE.
    warmup_iterations: int = 1
    client_timeout_seconds: float = 10.0
    client_attempts: int = 5
    client_backoff_seconds: float = 0.2
    client_backoff_max_seconds: float = 3.0
    # Inputs per request; bigger inputs are split and the answers joined.
    client_batch_size: int = 256
    # models.config: versions a model keeps loaded when no stable/canary pin is known.
    versions_loaded: int = 2
    prometheus_path: str = "/monitoring/prometheus/metrics"
    # TF Serving's --batching_parameters_file.
    max_batch_size: int = 64
    batch_timeout_micros: int = 2000
    max_enqueued_batches: int = 100
    num_batch_threads: int = 4


SERVING = Serving()

PROFILES: dict[str, Profile] = {WDBC.name: WDBC}


def profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown pipeline {name!r}; choose from {sorted(PROFILES)}") from None


def default_data_root(p: Profile) -> Path:
    """The bundled data a pipeline runs on when no --input is given."""
    return DATA_DIR / p.name
