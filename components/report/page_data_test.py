"""The data section's ingestion table: counts, and the names a count stands for."""

from components.report.page_data import _ingestion


def test_ingestion_shows_counts_and_named_folders():
    (table,) = _ingestion({"ingestion": {"patches_kept": 40_000, "stray_folders": [],
                                         "odd_folders": ["a b", "x"]}})
    assert table.rows == [["odd_folders", "a b, x"], ["patches_kept", "40,000"],
                          ["stray_folders", "none"]]
