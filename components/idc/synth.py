"""`bcpipe data synth-idc`: writes an archive shaped like the public IDC one, quirks included.

The real archive cannot be downloaded here, so the loader is proved on this. Patches look
like H&E tissue (pink stroma, purple nuclei); IDC-positive ones have denser, larger and
darker nuclei. Patients differ in stain and in their share of positive patches (about 28%
overall). Everything is written as it is generated: memory stays flat at any size.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from components.idc.archive import MACOS_DIR, MIRROR_DIR, PatchName
from pipeline.config import IDC_PATCH_SIZE

GRID = 80  # a slide is at most GRID x GRID patches
POSITIVE_SHARE = 0.28
EDGE_SHARE = 0.03


@dataclass
class Manifest:
    """What was planted, so ingestion counts can be checked exactly."""

    seed: int
    patients: int
    patches_kept: int = 0  # decodable, class-consistent patches outside the mirror
    positives_kept: int = 0
    small_kept: int = 0
    mirror_copies: int = 0
    empty: int = 0
    undecodable: int = 0
    class_mismatch: int = 0
    stray: int = 0
    per_patient: dict[str, int] = field(default_factory=dict)


def manifest_path(out: Path) -> Path:
    return out.with_name(out.name + ".manifest.json")


def render_patch(rng: np.random.Generator, positive: bool, stain: np.ndarray,
                 height: int = IDC_PATCH_SIZE, width: int = IDC_PATCH_SIZE) -> np.ndarray:
    """One RGB patch as uint8 [height, width, 3]."""
    yy, xx = np.mgrid[0:height, 0:width]
    image = np.empty((height, width, 3))
    image[:] = np.array([232.0, 182.0, 206.0]) + stain
    image += rng.normal(0, 6, (height, width, 1))
    count = rng.poisson(17 if positive else 8)
    radius = rng.uniform(2.8, 4.6, count) if positive else rng.uniform(2.0, 3.6, count)
    cy, cx = rng.uniform(0, height, count), rng.uniform(0, width, count)
    inside = ((yy[None] - cy[:, None, None]) ** 2 + (xx[None] - cx[:, None, None]) ** 2
              < radius[:, None, None] ** 2).any(axis=0)
    nucleus = np.array([105.0, 50.0, 135.0] if positive else [140.0, 85.0, 165.0]) + stain
    image[inside] = nucleus + rng.normal(0, 10, (int(inside.sum()), 3))
    return np.clip(image, 0, 255).astype(np.uint8)


def encode_png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def _mirror(primary: Path, out: Path, manifest: Manifest) -> None:
    """The archive's second copy of the same file, under MIRROR_DIR."""
    copy = out / MIRROR_DIR / primary.relative_to(out)
    copy.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(primary, copy)
    except OSError:
        shutil.copyfile(primary, copy)
    manifest.mirror_copies += 1


def _write(path: Path, content: bytes, out: Path, manifest: Manifest) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    _mirror(path, out, manifest)


def _patient(rng, out: Path, patient: str, per_patient: int, manifest: Manifest) -> list[Path]:
    share = rng.beta(2.0, 2.0 * (1 - POSITIVE_SHARE) / POSITIVE_SHARE)
    stain = rng.normal(0, 8, 3)
    cells = rng.choice(GRID * GRID, size=per_patient, replace=False)
    written = []
    for cell in cells:
        label = int(rng.random() < share)
        name = PatchName(patient, 1 + 50 * int(cell % GRID), 1 + 50 * int(cell // GRID), label)
        height = width = IDC_PATCH_SIZE
        if rng.random() < EDGE_SHARE:  # slide borders give narrower or shorter patches
            if rng.random() < 0.5:
                width = int(rng.integers(20, IDC_PATCH_SIZE))
            else:
                height = int(rng.integers(20, IDC_PATCH_SIZE))
            manifest.small_kept += 1
        path = out / patient / str(label) / name.filename
        _write(path, encode_png(render_patch(rng, bool(label), stain, height, width)), out,
               manifest)
        manifest.patches_kept += 1
        manifest.positives_kept += label
        written.append(path)
    manifest.per_patient[patient] = per_patient
    return written


def _quirks(rng, out: Path, first: Path, manifest: Manifest) -> None:
    """One of each defect the real archive has, in the first patient's folders."""
    patient = first.name
    free = GRID * GRID + 7  # past the grid: cannot collide with a generated patch
    _write(first / "0" / PatchName(patient, free, 1, 0).filename, b"", out, manifest)
    manifest.empty += 1
    _write(first / "0" / PatchName(patient, free, 51, 0).filename,
           b"\x89PNG\r\n\x1a\n" + rng.bytes(200), out, manifest)
    manifest.undecodable += 1
    mismatched = PatchName(patient, free, 101, 1)  # the name says 1, the folder says 0
    _write(first / "0" / mismatched.filename,
           encode_png(render_patch(rng, True, np.zeros(3))), out, manifest)
    manifest.class_mismatch += 1
    strays = [out / ".DS_Store", first / ".DS_Store",
              out / MACOS_DIR / patient / "0" / f"._{PatchName(patient, 1, 1, 0).filename}",
              out / MACOS_DIR / "._.DS_Store"]
    for stray in strays:
        stray.parent.mkdir(parents=True, exist_ok=True)
        stray.write_bytes(b"\x00\x05\x16\x07" + rng.bytes(60))  # AppleDouble header
    manifest.stray += len(strays)


def patch_counts(rng: np.random.Generator, patients: int, total: int) -> list[int]:
    """`total` patches spread unevenly over patients, as slides differ in size."""
    if not patients <= total <= patients * GRID * GRID:
        raise ValueError(f"--total must be {patients}..{patients * GRID * GRID} "
                         f"for {patients} patients")
    weights = rng.lognormal(0.0, 0.6, patients)
    counts = np.minimum(np.maximum(1, np.floor(weights / weights.sum() * total)), GRID * GRID)
    counts = counts.astype(int)
    # Hand out what flooring and capping left, one patch at a time, to patients with room.
    while (short := total - counts.sum()) != 0:
        room = np.flatnonzero(counts < GRID * GRID) if short > 0 else np.flatnonzero(counts > 1)
        counts[rng.choice(room, size=min(abs(short), len(room)), replace=False)] += (
            1 if short > 0 else -1)
    return counts.tolist()


# The range the public archive's patient ids come from; each generated patient takes one.
PATIENT_IDS = range(8863, 16897)


def synthesize(out: Path, *, patients: int, per_patient: int | None = None,
               total: int | None = None, seed: int) -> Manifest:
    """`per_patient` patches for each patient, or `total` patches spread over them."""
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty; give a new directory")
    if (per_patient is None) == (total is None):
        raise ValueError("give either --per-patient or --total")
    if per_patient is not None and not 1 <= per_patient <= GRID * GRID:
        raise ValueError(f"--per-patient must be 1..{GRID * GRID}")
    if not 1 <= patients <= len(PATIENT_IDS):
        raise ValueError(f"--patients must be 1..{len(PATIENT_IDS)} (the archive's patient ids "
                         f"run {PATIENT_IDS.start}..{PATIENT_IDS.stop - 1})")
    rng = np.random.default_rng(seed)
    ids = sorted(rng.choice(np.arange(PATIENT_IDS.start, PATIENT_IDS.stop), size=patients,
                            replace=False).tolist())
    counts = [per_patient] * patients if total is None else patch_counts(rng, patients, total)
    manifest = Manifest(seed=seed, patients=patients)
    out.mkdir(parents=True, exist_ok=True)
    for index, (patient, count) in enumerate(zip(ids, counts, strict=True)):
        _patient(rng, out, str(patient), count, manifest)
        if index == 0:
            _quirks(rng, out, out / str(patient), manifest)
    manifest_path(out).write_text(json.dumps(asdict(manifest), indent=2, sort_keys=True))
    return manifest


def main(args: argparse.Namespace) -> int:
    from pipeline.exits import EXIT_OK, UsageError

    started = time.monotonic()
    try:
        manifest = synthesize(
            args.out, patients=args.patients, seed=args.seed,
            per_patient=None if args.total else args.per_patient, total=args.total,
        )
    except (FileExistsError, ValueError) as err:
        raise UsageError(str(err)) from None
    took = time.monotonic() - started
    print(
        f"wrote {manifest.patches_kept} patches of {manifest.patients} patients "
        f"({manifest.positives_kept} positive, {manifest.small_kept} smaller than 50x50) and "
        f"{manifest.mirror_copies} mirror copies to {args.out} in {took:.1f}s "
        f"({(manifest.patches_kept + manifest.mirror_copies) / took:.0f} files/s); "
        f"planted: {manifest.empty} empty, {manifest.undecodable} undecodable, "
        f"{manifest.class_mismatch} class mismatch, {manifest.stray} stray; "
        f"manifest {manifest_path(args.out)}"
    )
    return EXIT_OK
