"""Every accepted layout and every refusal of the WDBC importer."""

import csv
import hashlib
from pathlib import Path

import pytest

from components.wdbc.importer import (
    CANONICAL_COLUMNS,
    CANONICAL_FILE,
    WdbcFormatError,
    canonical_name,
    import_wdbc,
)
from pipeline.cli import EXIT_OK, EXIT_REJECTED, main
from pipeline.config import WDBC_FEATURES

BUNDLED = Path(__file__).resolve().parents[2] / "data" / "wdbc" / "span-1" / CANONICAL_FILE
KAGGLE_NAMES = [name.replace("concave_points", "concave points") for name in WDBC_FEATURES]


def _bundled_rows() -> list[dict[str, str]]:
    with open(BUNDLED) as handle:
        return list(csv.DictReader(handle))


def _write_uci(path: Path, rows: list[dict[str, str]]) -> None:
    with open(path, "w") as handle:
        for row in rows:
            diagnosis = "M" if row["diagnosis"] == "1" else "B"
            handle.write(",".join([row["id"], diagnosis, *(row[f] for f in WDBC_FEATURES)]) + "\n")


def _write_kaggle(path: Path, rows: list[dict[str, str]]) -> None:
    header = ",".join(f'"{n}"' for n in ["id", "diagnosis", *KAGGLE_NAMES]) + ","
    lines = [header]
    for row in rows:
        diagnosis = "M" if row["diagnosis"] == "1" else "B"
        lines.append(",".join([row["id"], diagnosis, *(row[f] for f in WDBC_FEATURES)]) + ",")
    path.write_text("\n".join(lines) + "\n")


def _snapshot(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "d"
        for p in sorted(root.rglob("*"))
    }


def test_bundled_data_is_canonical_and_real():
    rows = _bundled_rows()
    assert list(rows[0]) == list(CANONICAL_COLUMNS)
    assert len(rows) == 569
    # The real data set: 212 malignant, 357 benign; label 1 = malignant.
    assert sum(r["diagnosis"] == "1" for r in rows) == 212
    # The first record of the UCI file is malignant with radius_mean 17.99.
    assert rows[0]["diagnosis"] == "1" and rows[0]["radius_mean"] == "17.99"


@pytest.mark.parametrize("layout", ["uci", "kaggle"])
def test_layouts_normalise_to_the_same_canonical_csv(tmp_path, layout):
    source = tmp_path / ("wdbc.data" if layout == "uci" else "data.csv")
    (_write_uci if layout == "uci" else _write_kaggle)(source, _bundled_rows())
    before = source.read_bytes()
    result = import_wdbc(source, tmp_path / "data")
    assert result.span == 1 and result.rows == 569 and result.malignant == 212
    assert result.path.read_text() == BUNDLED.read_text()
    assert source.read_bytes() == before  # the source is never touched


def test_sklearn_copy_matches_bundled_span(tmp_path):
    result = import_wdbc(None, tmp_path, sklearn=True)
    assert result.layout == "scikit-learn"
    assert result.path.read_text() == BUNDLED.read_text()


def test_each_import_is_a_new_span(tmp_path):
    first = import_wdbc(None, tmp_path, sklearn=True)
    second = import_wdbc(None, tmp_path, sklearn=True)
    assert (first.span, second.span) == (1, 2)
    assert second.path == tmp_path / "span-2" / CANONICAL_FILE


def test_canonical_names():
    assert canonical_name('"concave points_mean"') == "concave_points_mean"
    assert canonical_name("mean concave points") == "concave_points_mean"
    assert canonical_name("worst radius") == "radius_worst"
    assert canonical_name("fractal dimension error") == "fractal_dimension_se"


def _kaggle_with(tmp_path: Path, edit) -> Path:
    source = tmp_path / "data.csv"
    _write_kaggle(source, _bundled_rows()[:5])
    lines = source.read_text().splitlines()
    source.write_text("\n".join(edit(lines)) + "\n")
    return source


def _set(lines: list[str], line: int, field: int, value: str) -> list[str]:
    """`lines` with field `field` of 1-based line `line` replaced."""
    fields = lines[line - 1].split(",")
    fields[field] = value
    return lines[: line - 1] + [",".join(fields)] + lines[line:]


REFUSALS = {
    "empty": (lambda lines: [], r"line 1: the file is empty"),
    "header only": (lambda lines: lines[:1], r"line 1: header only"),
    "missing column": (
        lambda lines: [lines[0].replace('"texture_mean",', "")] + lines[1:],
        r"line 1: missing column\(s\) texture_mean",
    ),
    "unknown column": (
        lambda lines: [lines[0].replace('"texture_mean"', '"texture_max"')] + lines[1:],
        r"line 1: unknown column\(s\) texture_max",
    ),
    "non-numeric": (
        lambda lines: _set(lines, 4, 3, "abc"),
        r"line 4, column 'texture_mean': 'abc' is not a number",
    ),
    "diagnosis": (
        lambda lines: _set(lines, 3, 1, "X"),
        r"line 3, column 'diagnosis': 'X' is not M or B",
    ),
    "short row": (
        lambda lines: lines[:5] + [",".join(lines[5].split(",")[:10])],
        r"line 6: short row, 10 fields where 32 are expected \(column 'symmetry_mean' is missing",
    ),
    "not finite": (
        lambda lines: _set(lines, 3, 6, "inf"),
        r"line 3, column 'smoothness_mean': 'inf' is not finite",
    ),
    "duplicate id": (
        lambda lines: lines + [lines[1]],
        r"line 7, column 'id': id 1 already on line 2",
    ),
    "the same id with a leading zero": (
        lambda lines: lines + [_set(lines, 2, 0, "01")[1]],
        r"line 7, column 'id': id 01 \(= 1\) already on line 2",
    ),
    "semicolons": (
        lambda lines: [line.replace(",", ";") for line in lines],
        r"line 1: the columns are separated by semicolons; the layouts read here separate "
        r"them by commas",
    ),
    "tabs": (
        lambda lines: [line.replace(",", "\t") for line in lines],
        r"line 1: the columns are separated by tabs",
    ),
}


@pytest.mark.parametrize("encode", [
    lambda text: text.encode("utf-16"),
    lambda text: b"PK\x03\x04\x00\x00\xff\xfe" + bytes(range(256)),
])
def test_a_utf16_or_binary_file_is_refused_in_one_line(tmp_path, capsys, encode):
    source = _kaggle_with(tmp_path, lambda lines: lines)
    source.write_bytes(encode(source.read_text()))
    code = main(["data", "import-wdbc", str(source), "--into", str(tmp_path / "d")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == EXIT_REJECTED and len(err) == 1
    assert "not a UTF-8 text CSV" in err[0]
    assert not (tmp_path / "d").exists()


@pytest.mark.parametrize("argv", [
    ["data", "import-wdbc", "missing.csv", "--into", "{tmp}/d"],
    ["data", "import-wdbc", "--sklearn", "--into", "{tmp}/a-file"],
])
def test_a_missing_source_or_a_file_as_the_data_root_is_a_usage_error(tmp_path, capsys, argv):
    (tmp_path / "a-file").write_text("")
    with pytest.raises(SystemExit) as exit_info:
        main([a.format(tmp=tmp_path) for a in argv])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert err.startswith("usage: bcpipe data import-wdbc")
    assert "no such file" in err or "a file, not a folder" in err


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_refusals_name_line_and_column_and_leave_the_data_root_alone(tmp_path, case):
    edit, message = REFUSALS[case]
    source = _kaggle_with(tmp_path, edit)
    into = tmp_path / "data"
    import_wdbc(None, into, sklearn=True)  # an existing span that must survive untouched
    before = _snapshot(into)
    with pytest.raises(WdbcFormatError, match=message):
        import_wdbc(source, into)
    assert _snapshot(into) == before


def test_refused_uci_row_through_the_cli(tmp_path, capsys):
    source = tmp_path / "wdbc.data"
    _write_uci(source, _bundled_rows()[:3])
    source.write_text(source.read_text().replace(",M,", ",Q,", 1))
    code = main(["data", "import-wdbc", str(source), "--into", str(tmp_path / "d")])
    assert code == EXIT_REJECTED
    assert "line 1, column 'diagnosis': 'Q' is not M or B" in capsys.readouterr().err
    assert not (tmp_path / "d").exists()


def test_cli_imports(tmp_path, capsys):
    assert main(["data", "import-wdbc", "--sklearn", "--into", str(tmp_path)]) == EXIT_OK
    assert "569 rows (212 malignant)" in capsys.readouterr().out


def test_cli_usage_error(tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        main(["data", "import-wdbc", "--into", str(tmp_path)])
    assert exit_info.value.code == 2
