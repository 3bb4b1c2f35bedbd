"""Small real SavedModels for the serving tests, exported through `serving.signatures`, and
the endpoint the tests query.

The networks are small 1D (WDBC) and 2D (patch) CNNs with seeded random weights (the
trainers' own modules import TFX, which costs a test run half a minute); the preprocessing layer stands in for a Transform graph (z-scores, PNG decoding) so that no
Beam run is needed. What is exported is the full serving contract: three signatures, the
warmup file, `bcpipe_model.json`. Exports are made once per test process and copied.

The endpoint is `bcpipe serve`'s server started in the test process on 127.0.0.1 with an
OS-chosen port, or any TF Serving: set BCPIPE_SERVING_ADDRESS=HOST:PORT and
BCPIPE_SERVING_MODEL_BASE to the (initially empty) directory it polls, with a models.config
listing `wdbc` and `idc_patch` there (`bcpipe serving-config`), and the same tests push
into that directory and query that server.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from components.model_files import copy_tree
from pipeline.config import DATA_DIR, IDC_PATCH_SIZE, WDBC_FEATURES
from serving import inputs, layout, signatures
from serving.client import ServingClient
from serving.server import ModelServer
from serving.version_manager import VersionManager

ADDRESS_ENV = "BCPIPE_SERVING_ADDRESS"
MODEL_BASE_ENV = "BCPIPE_SERVING_MODEL_BASE"
# How long a pushed version may take to become AVAILABLE before a test gives up.
LOAD_TIMEOUT_SECONDS = 120.0

WDBC_CSV = DATA_DIR / "wdbc" / "span-1" / "wdbc.csv"
MODELS = ("wdbc", "idc_patch")


class _Standardize(tf.Module):
    def __init__(self, means: dict[str, float], stds: dict[str, float]):
        super().__init__()
        self.means = {k: tf.constant(v, tf.float32) for k, v in means.items()}
        self.stds = {k: tf.constant(v, tf.float32) for k, v in stds.items()}

    def __call__(self, features):
        return {
            k: tf.reshape((features[k] - self.means[k]) / self.stds[k], [-1, 1]) for k in self.means
        }


class _DecodePatch(tf.Module):
    def __call__(self, features):
        def decode(png):
            image = tf.io.decode_png(png, channels=3)
            return tf.image.resize_with_crop_or_pad(image, IDC_PATCH_SIZE, IDC_PATCH_SIZE)

        images = tf.map_fn(
            decode, tf.reshape(features["image"], [-1]), fn_output_signature=tf.uint8
        )
        return {"image": tf.cast(images, tf.float32) / 255.0}


def wdbc_rows(count: int | None = None) -> inputs.Batch:
    batch = inputs.wdbc_csv(WDBC_CSV)
    return batch if count is None else batch.head(count)


def png_patches(count: int, seed: int = 0) -> list[bytes]:
    """Patches as the archive has them, edge patches smaller than 50x50 included."""
    rng = np.random.default_rng(seed)
    patches = []
    for i in range(count):
        side = IDC_PATCH_SIZE if i % 4 else 31
        pixels = rng.integers(0, 256, size=(side, IDC_PATCH_SIZE, 3), dtype=np.uint8)
        patches.append(tf.io.encode_png(pixels).numpy())
    return patches


def _wdbc_network() -> tf.keras.Model:
    features = {name: tf.keras.layers.Input(shape=(1,), name=name) for name in WDBC_FEATURES}
    x = tf.keras.layers.Concatenate()([features[name] for name in WDBC_FEATURES])
    x = tf.keras.layers.Reshape((len(WDBC_FEATURES), 1))(x)
    x = tf.keras.layers.Conv1D(4, 2, activation="relu")(x)
    x = tf.keras.layers.Flatten()(x)
    output = tf.keras.layers.Dense(1, activation="sigmoid")(x)
    return tf.keras.Model(inputs=features, outputs=output)


def export_wdbc(export_dir: str, seed: int) -> None:
    tf.keras.utils.set_random_seed(seed)
    batch = wdbc_rows()
    layer = _Standardize(
        {k: float(v.mean()) for k, v in batch.raw.items()},
        {k: float(v.std()) for k, v in batch.raw.items()},
    )
    records = [{k: float(v[i]) for k, v in batch.raw.items()} for i in range(3)]
    signatures.save_serving_model(
        export_dir,
        model=_wdbc_network(),
        tft_layer=layer,
        raw_inputs={name: tf.TensorSpec([None], tf.float32, name=name) for name in WDBC_FEATURES},
        raw_feature_spec={name: tf.io.FixedLenFeature([], tf.float32) for name in WDBC_FEATURES},
        threshold=0.5,
        info={"model_name": "wdbc", "seed": seed},
        warmup_records=records,
    )


def export_idc(export_dir: str, seed: int) -> None:
    tf.keras.utils.set_random_seed(seed)
    image = tf.keras.layers.Input(shape=(IDC_PATCH_SIZE, IDC_PATCH_SIZE, 3), name="image")
    x = tf.keras.layers.Conv2D(4, 3, activation="relu")(image)
    x = tf.keras.layers.GlobalAveragePooling2D()(x)
    output = tf.keras.layers.Dense(1, activation="sigmoid")(x)
    signatures.save_serving_model(
        export_dir,
        model=tf.keras.Model(inputs={"image": image}, outputs=output),
        tft_layer=_DecodePatch(),
        raw_inputs={"image": tf.TensorSpec([None], tf.string, name="image")},
        raw_feature_spec={"image": tf.io.FixedLenFeature([], tf.string)},
        threshold=0.5,
        info={"model_name": "idc_patch", "seed": seed},
        warmup_records=[{"image": png} for png in png_patches(2, seed)],
    )


@functools.cache
def exported() -> dict[tuple[str, int], str]:
    """(model, seed) -> an export made once per process: two wdbc seeds, one idc_patch."""
    root = tempfile.mkdtemp(prefix="bcpipe-serving-models-")
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    exports = {}
    for model, seed, export in (
        ("wdbc", 1, export_wdbc),
        ("wdbc", 2, export_wdbc),
        ("idc_patch", 1, export_idc),
    ):
        path = os.path.join(root, f"{model}-{seed}")
        export(path, seed)
        exports[model, seed] = path
    return exports


def push(model_base: Path, model: str, version: int, seed: int = 1) -> Path:
    """Pushes as the Pusher does: copy under a hidden staging name, then one rename."""
    model_dir = model_base / model
    target = Path(layout.version_dir(str(model_dir), version))
    if not target.exists():
        staging = model_dir / f"{layout.STAGING_PREFIX}{version}"
        copy_tree(exported()[model, seed], str(staging))
        os.rename(staging, target)
    return target


def truncate_variables(version_dir: Path) -> None:
    data = version_dir / "variables" / "variables.data-00000-of-00001"
    data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])


def delete_variables(version_dir: Path) -> None:
    shutil.rmtree(version_dir / "variables")


def push_broken(model_base: Path, version: int, breakage) -> None:
    """A wdbc version made whole, broken by `breakage`, then renamed in as a push is."""
    staged = model_base / "staged"
    shutil.copytree(exported()["wdbc", 2], staged)
    breakage(staged)
    staged.rename(model_base / "wdbc" / str(version))


@dataclass
class Endpoint:
    address: str
    model_base: Path
    server: ModelServer | None = None

    def client(self, **kwargs) -> ServingClient:
        return ServingClient(self.address, **kwargs)

    def push(self, model: str, version: int, seed: int = 1) -> Path:
        """Pushes and returns once the server reports the version AVAILABLE."""
        path = push(self.model_base, model, version, seed)
        with self.client() as client:
            client.wait_until_available(model, version, timeout=LOAD_TIMEOUT_SECONDS)
        return path

    def close(self) -> None:
        if self.server is not None:
            self.server.stop(grace=1.0)


def start_endpoint(model_base: Path, **server_kwargs) -> Endpoint:
    """The server under test: BCPIPE_SERVING_ADDRESS's, else one started here."""
    address = os.environ.get(ADDRESS_ENV)
    if address:
        if not os.environ.get(MODEL_BASE_ENV):
            pytest.skip(f"{ADDRESS_ENV} is set but {MODEL_BASE_ENV} is not")
        return Endpoint(address, Path(os.environ[MODEL_BASE_ENV]))
    store = VersionManager(model_base=str(model_base))
    server = ModelServer(store, host="127.0.0.1", port=0, **server_kwargs)
    port = server.start()
    store.start(poll_seconds=0.1)
    return Endpoint(f"127.0.0.1:{port}", model_base, server)


@functools.cache
def _signatures(version_dir: str):
    return tf.saved_model.load(version_dir).signatures


def in_process(version_dir: Path, signature: str, request_inputs: dict) -> dict[str, np.ndarray]:
    """What the SavedModel itself answers, for comparison with what the server sends."""
    function = _signatures(str(version_dir))[signature]
    outputs = function(**{k: tf.constant(v) for k, v in request_inputs.items()})
    return {k: v.numpy() for k, v in outputs.items()}
