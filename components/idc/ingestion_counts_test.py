"""Every file of an archive is counted once, under the reason it was kept or skipped, and
no link (dangling, looping, at the top or inside a patient) stops the walk."""

import io
import os
from collections import Counter

import numpy as np
from PIL import Image

from components.idc.example_gen import (
    list_entry,
    read_patch,
    stray_folders,
    summarise,
    top_level,
)


def _png(pixels: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "PNG")
    return out.getvalue()


def _counts(root) -> dict:
    counts = Counter()
    for entry in top_level(str(root)):
        for item in list_entry(entry):
            counts.update(read_patch(*item)[0])
    return summarise(counts)


def test_each_skip_is_counted_under_its_reason_and_links_are_followed_once(tmp_path):
    root = tmp_path / "archive"
    negatives, positives = root / "10253" / "0", root / "10253" / "1"
    negatives.mkdir(parents=True)
    positives.mkdir()
    rgb = np.full((50, 50, 3), 200, np.uint8)
    (negatives / "10253_idx5_x1_y1_class0.png").write_bytes(_png(rgb))
    (negatives / "10253_idx5_x2_y1_class0.png").write_bytes(_png(rgb[:31]))
    (negatives / "10253_idx5_x3_y1_class0.png").write_bytes(
        _png(np.full((64, 64, 3), 200, np.uint8)))
    (negatives / "10253_idx5_x4_y1_class0.png").write_bytes(
        _png(np.full((50, 50), 9000, np.uint16)))
    (positives / "10253_idx5_x5_y1_class0.png").write_bytes(_png(rgb))  # planted mismatch
    os.symlink("nowhere.png", negatives / "10253_idx5_x6_y1_class0.png")  # dangling
    os.symlink("..", negatives / "back-to-the-patient")  # a loop inside a patient
    os.symlink(".", root / "loop")  # a loop at the top
    os.symlink("itself", root / "itself")  # a link to itself

    counts = _counts(root)
    assert {k: v for k, v in counts.items() if v and k != "patches_per_patient"} == {
        "patches_kept": 2,
        "small_kept": 1,
        "oversized_skipped": 1,
        "not_8bit_skipped": 1,
        "unreadable_skipped": 1,
        "class_mismatch_skipped": 1,
        "stray_ignored": 2,
        "patients": 1,
    }


def test_folders_not_read_as_patients_are_named(tmp_path):
    for name in ("10253", "12 34", "Ünïcode", "__MACOSX", ".hidden"):
        (tmp_path / name).mkdir()
    (tmp_path / ".DS_Store").write_bytes(b"x")
    assert stray_folders(top_level(str(tmp_path))) == ["12 34", "Ünïcode"]
