"""The demo's generated IDC archive is reused only when its manifest matches, and its
samples are patches the pipeline itself would keep."""

import csv
import dataclasses

from components.idc.synth import manifest_path
from pipeline import config
from pipeline.config import DEMO
from pipeline.demo import idc_archive, idc_samples, wdbc_samples

SMALL = dataclasses.replace(DEMO, idc_patients=3, idc_per_patient=8, idc_seed=1)


def _files(root):
    return {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}


def test_archive_is_reused_while_its_manifest_matches(tmp_path):
    root = tmp_path / "idc-demo"
    assert idc_archive(root, SMALL) is False
    written = _files(root)
    assert idc_archive(root, SMALL) is True
    assert _files(root) == written  # untouched, so ExampleGen's fingerprint is unchanged

    other = dataclasses.replace(SMALL, idc_seed=2)
    assert idc_archive(root, other) is False
    assert _files(root) != written and idc_archive(root, other) is True


def test_archive_cut_short_is_made_again(tmp_path):
    root = tmp_path / "idc-demo"
    idc_archive(root, SMALL)
    manifest_path(root).unlink()  # as a kill before the manifest was written leaves it
    assert idc_archive(root, SMALL) is False and manifest_path(root).is_file()


def test_samples_are_the_patches_the_pipeline_keeps(tmp_path):
    root = tmp_path / "idc-demo"
    idc_archive(root, SMALL)
    every = idc_samples(root, per_class=SMALL.idc_per_patient * SMALL.idc_patients)
    # The planted empty, undecodable and class-mismatched files are left out.
    assert len(every.keys) == SMALL.idc_patients * SMALL.idc_per_patient
    few = idc_samples(root, per_class=2)
    folders = [key.split("/")[-2] for key in few.keys]
    assert folders == ["0", "0", "1", "1"]
    assert all(png.startswith(b"\x89PNG") for png in few.raw["image"])


def test_wdbc_samples_are_rows_of_both_diagnoses_in_the_bundled_csv():
    batch = wdbc_samples(2)
    assert len(batch.keys) == 4 and all(len(column) == 4 for column in batch.raw.values())
    assert len(batch.raw) == 30
    path = config.default_data_root(config.WDBC) / "span-1" / "wdbc.csv"
    with path.open(newline="") as handle:
        diagnosis = {row["id"]: row["diagnosis"] for row in csv.DictReader(handle)}
    assert [diagnosis[key] for key in batch.keys] == ["1", "1", "0", "0"]
