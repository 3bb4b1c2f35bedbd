"""The real IDC patches decoded once, as the pipeline decodes them, for the quality benchmark.

Every file goes through the ExampleGen's own `read_patch` (the archive's layout, class
agreement, decodability) and every kept patch through the Transform's own
`preprocessing_fn` (PNG -> 50x50x3, edge patches padded white). The pixels land in a
uint8 `.npy` that later runs map from disk rather than load: 17,269 patches are 130 MB.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench import common
from pipeline.config import PROJECT_ROOT

# ../shared beside the project, as on every machine of this project and in CI.
REAL_ROOT = PROJECT_ROOT.parent / "shared" / "data" / "idc-real"
_DECODE_BATCH = 512


@dataclass(frozen=True)
class Patches:
    pixels: np.ndarray  # uint8 [n, 7500], memory-mapped
    labels: np.ndarray  # int64 [n], 1 = IDC-positive
    patients: np.ndarray  # str [n]
    sizes: np.ndarray  # int64 [n, 2]: height, width as stored

    def __len__(self) -> int:
        return int(self.labels.size)


def _files(root: Path) -> list[tuple[str, str]]:
    """(kind, file) for every file of the archive, as the ExampleGen's walk lists them."""
    from components.idc.example_gen import list_entry, top_level

    return sorted(item for entry in top_level(str(root)) for item in list_entry(entry))


def _fingerprint(files: list[tuple[str, str]]) -> dict:
    """What the cache was made from: a changed, added or removed file makes a new one."""
    names = [file for _, file in files]
    return {"files": len(names), "bytes": sum(os.path.getsize(f) for f in names),
            "first": names[:1], "last": names[-1:]}


def _decode(files: list[tuple[str, str]], out: Path) -> None:
    import tensorflow as tf

    from components.idc.example_gen import read_patch
    from components.idc.preprocessing import PIXELS, preprocessing_fn
    from pipeline.config import IDC_LABEL, IDC_PATIENT

    kept = []
    for kind, file in files:
        _, example = read_patch(kind, file)
        if example is not None:
            kept.append(example.features.feature)
    pixels = np.lib.format.open_memmap(
        out / "pixels.npy.part", mode="w+", dtype=np.uint8, shape=(len(kept), 7500))
    for start in range(0, len(kept), _DECODE_BATCH):
        batch = kept[start : start + _DECODE_BATCH]
        images = tf.constant([f["image"].bytes_list.value[0] for f in batch])
        labels = tf.constant([[f[IDC_LABEL].int64_list.value[0]] for f in batch])
        decoded = preprocessing_fn({"image": images, IDC_LABEL: labels})[PIXELS]
        pixels[start : start + len(batch)] = decoded.numpy().astype(np.uint8)
    pixels.flush()
    del pixels
    os.replace(out / "pixels.npy.part", out / "pixels.npy")
    np.savez(
        out / "meta.npz",
        labels=np.array([f[IDC_LABEL].int64_list.value[0] for f in kept], np.int64),
        patients=np.array([f[IDC_PATIENT].bytes_list.value[0].decode() for f in kept]),
        sizes=np.array([[f["height"].int64_list.value[0], f["width"].int64_list.value[0]]
                        for f in kept], np.int64),
    )


def load(root: Path = REAL_ROOT, cache: Path | None = None) -> Patches:
    """The patches under `root`, decoded into `cache` (bench/work/) unless already there."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: the real IDC patches are not there")
    files = _files(root)
    fingerprint = {"root": str(root.resolve()), **_fingerprint(files)}
    cache = cache or common.WORK_DIR / "idc-real-decoded"
    manifest = cache / "manifest.json"
    if not manifest.exists() or json.loads(manifest.read_text()) != fingerprint:
        cache.mkdir(parents=True, exist_ok=True)
        manifest.unlink(missing_ok=True)
        _decode(files, cache)
        manifest.write_text(json.dumps(fingerprint))
    meta = np.load(cache / "meta.npz")
    return Patches(np.load(cache / "pixels.npy", mmap_mode="r"), meta["labels"],
                   meta["patients"], meta["sizes"])
