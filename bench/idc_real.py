"""The real IDC patches decoded once, as the pipeline decodes them, for the quality benchmark.

Every file goes through the ExampleGen's own `read_patch` (the archive's layout, class
agreement, decodability) and every kept patch through the Transform's own
`preprocessing_fn` (PNG -> 50x50x3, edge patches padded white). The pixels land in a
uint8 `.npy` that later runs map from disk rather than load: 17,269 patches are 130 MB.
"""

from __future__ import annotations

import hashlib
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


def files(root: Path = REAL_ROOT) -> list[tuple[str, str]]:
    """(kind, file) for every file of the archive, as the ExampleGen's walk lists them."""
    from components.idc.example_gen import list_entry, top_level

    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: the real IDC patches are not there")
    return sorted(item for entry in top_level(str(root)) for item in list_entry(entry))


def _fingerprint(listed: list[tuple[str, str]]) -> str:
    """What a cache was made from: a changed, added or removed file makes a new one."""
    names = [file for _, file in listed]
    key = json.dumps([names, [os.path.getsize(f) for f in names]]).encode()
    return hashlib.sha1(key).hexdigest()[:16]


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
    # Written last: its presence says the cache is whole.
    with (out / "meta.npz.part").open("wb") as handle:
        np.savez(
            handle,
            labels=np.array([f[IDC_LABEL].int64_list.value[0] for f in kept], np.int64),
            patients=np.array([f[IDC_PATIENT].bytes_list.value[0].decode() for f in kept]),
            sizes=np.array([[f["height"].int64_list.value[0], f["width"].int64_list.value[0]]
                            for f in kept], np.int64),
        )
    os.replace(out / "meta.npz.part", out / "meta.npz")


def load(listed: list[tuple[str, str]], cache_root: Path | None = None) -> Patches:
    """The patches of `listed` (from `files`, or a selection of it), decoded into a cache
    under bench/work/ unless one made from the same files is there."""
    cache = (cache_root or common.WORK_DIR / "idc-real-decoded") / _fingerprint(listed)
    if not (cache / "meta.npz").exists():
        cache.mkdir(parents=True, exist_ok=True)
        _decode(listed, cache)
    meta = np.load(cache / "meta.npz")
    return Patches(np.load(cache / "pixels.npy", mmap_mode="r"), meta["labels"],
                   meta["patients"], meta["sizes"])
