"""The generator writes the archive's layout, deterministically, with every quirk."""

import hashlib
import json

import numpy as np
import pytest

from components.idc.archive import MACOS_DIR, MIRROR_DIR, parse_patch_name
from components.idc.synth import manifest_path, render_patch, synthesize


def _digest(root) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(root)).encode() + path.read_bytes())
    return digest.hexdigest()


def test_layout_quirks_and_manifest(tmp_path):
    root = tmp_path / "a"
    manifest = synthesize(root, patients=5, per_patient=60, seed=1)
    assert json.loads(manifest_path(root).read_text())["patches_kept"] == 300
    patients = sorted(p.name for p in root.iterdir() if p.name.isdigit())
    assert len(patients) == 5
    primary = [p for p in root.glob("*/[01]/*.png")]
    assert len(primary) == 300 + 3  # plus the empty, undecodable and mismatched files
    for path in primary:
        name = parse_patch_name(path.name)
        assert name.patient == path.parent.parent.name
    mirror = [p for p in (root / MIRROR_DIR).rglob("*") if p.is_file()]
    assert len(mirror) == manifest.mirror_copies == 303
    for copy in mirror:
        assert copy.read_bytes() == (root / copy.relative_to(root / MIRROR_DIR)).read_bytes()
    assert (root / ".DS_Store").exists() and any((root / MACOS_DIR).rglob("._*"))
    assert [p.stat().st_size for p in root.glob("*/0/*.png")].count(0) == 1
    assert len(list(root.glob("*/0/*class1.png"))) == manifest.class_mismatch == 1
    share = manifest.positives_kept / manifest.patches_kept
    assert 0.1 < share < 0.5


def test_same_seed_same_archive(tmp_path):
    synthesize(tmp_path / "a", patients=3, per_patient=20, seed=9)
    synthesize(tmp_path / "b", patients=3, per_patient=20, seed=9)
    synthesize(tmp_path / "c", patients=3, per_patient=20, seed=10)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b") != _digest(tmp_path / "c")


def test_positive_patches_have_more_and_darker_nuclei():
    rng = np.random.default_rng(0)
    stain = np.zeros(3)
    dark = [(render_patch(rng, True, stain).mean(axis=2) < 150).mean() for _ in range(50)]
    light = [(render_patch(rng, False, stain).mean(axis=2) < 150).mean() for _ in range(50)]
    assert np.mean(dark) > 3 * np.mean(light)
    assert render_patch(rng, False, stain, 37, 50).shape == (37, 50, 3)


def test_refuses_a_non_empty_directory(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "f").write_text("keep me")
    with pytest.raises(FileExistsError):
        synthesize(tmp_path / "x", patients=1, per_patient=1, seed=0)


def test_total_is_spread_unevenly_and_exactly(tmp_path):
    manifest = synthesize(tmp_path / "a", patients=7, total=1000, seed=3)
    counts = list(manifest.per_patient.values())
    assert manifest.patches_kept == sum(counts) == 1000
    assert len(counts) == 7 and min(counts) >= 1 and len(set(counts)) > 1
    assert sorted(p.name for p in (tmp_path / "a").iterdir() if p.name.isdigit()) == sorted(
        manifest.per_patient)


def test_total_must_fit_the_patients(tmp_path):
    with pytest.raises(ValueError, match="--total"):
        synthesize(tmp_path / "a", patients=3, total=2, seed=1)
    with pytest.raises(ValueError, match="either"):
        synthesize(tmp_path / "b", patients=3, total=20, per_patient=5, seed=1)
