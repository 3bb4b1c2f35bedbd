"""bench/ingestion.py at smoke size: both sides wrote the same examples and counted the
same quirks, and the rates agree with the recorded times (no time or target checked)."""

import json
import statistics
from pathlib import Path

import pytest

from bench import ingestion


@pytest.mark.e2e
def test_quick_ingestion_benchmark_compares_identical_outputs(run_quick):
    result = run_quick(ingestion)["ingestion"]
    assert result["target"] == 0.5 and result["higher_is_better"] is True
    assert result["ratio"] == pytest.approx(result["value"] / result["baseline"])

    details = result["details"]
    assert details["same_examples"] is True and details["same_counts"] is True
    kept = details["patches_kept"]
    assert kept == details["example_gen_examples"] == details["loop_examples"] > 0
    # The generated archive has the real one's quirks, and its manifest says how many.
    archive = Path(details["archive"])
    made = json.loads((archive.parent / f"{archive.name}.manifest.json").read_text())
    counted = details["counts"]
    assert made["mirror_copies"] > 0 and made["stray"] > 0
    for count, manifest_key in (("patches_kept", "patches_kept"), ("small_kept", "small_kept"),
                                ("mirror_skipped", "mirror_copies"), ("empty_skipped", "empty"),
                                ("undecodable_skipped", "undecodable"),
                                ("class_mismatch_skipped", "class_mismatch"),
                                ("stray_ignored", "stray")):
        assert counted[count] == made[manifest_key], count
    for side, rate in (("example_gen_seconds", result["value"]),
                       ("loop_seconds", result["baseline"])):
        seconds = details[side]
        assert len(seconds) == details["rounds"] + 1
        assert rate == pytest.approx(kept / statistics.median(seconds[1:]), rel=0.01)
