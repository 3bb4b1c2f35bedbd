"""Normalise the WDBC data set to bcpipe's canonical CSV and store it as a new span.

Three layouts come in: UCI's `wdbc.data` (no header), the common `data.csv` (quoted header,
`concave points_mean`, usually a trailing empty column), and scikit-learn's bundled copy.
The canonical CSV is `id,diagnosis,<30 features>` with diagnosis 1 = malignant.
Values are copied as they were written, never re-formatted: the raw data is the record.
"""

from __future__ import annotations

import csv
import itertools
import math
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from pipeline.config import WDBC_FEATURES, WDBC_ID, WDBC_LABEL

CANONICAL_COLUMNS = (WDBC_ID, WDBC_LABEL, *WDBC_FEATURES)
CANONICAL_FILE = "wdbc.csv"
SPAN_PREFIX = "span-"
_DIAGNOSIS = {"M": "1", "B": "0"}


class WdbcFormatError(ValueError):
    """The file is not WDBC data; the message names the line and column."""


@dataclass(frozen=True)
class ImportResult:
    span: int
    path: Path
    rows: int
    malignant: int
    layout: str


def canonical_name(raw: str) -> str:
    """`concave points_mean` -> `concave_points_mean`; also scikit-learn's `mean radius`."""
    name = raw.strip().strip('"').strip().lower()
    sk = re.fullmatch(r"(mean|worst) (.+)", name)
    if sk:
        name = f"{sk.group(2)}_{sk.group(1)}"
    sk_err = re.fullmatch(r"(.+) error", name)
    if sk_err:
        name = f"{sk_err.group(1)}_se"
    return re.sub(r"\s+", "_", name)


# What a spreadsheet's "CSV" export may separate columns by instead of commas.
_SEPARATORS = {";": "semicolons", "\t": "tabs", "|": "vertical bars"}


def _finite(value: str, line: int, column: str) -> str:
    text = value.strip()
    try:
        number = float(text)
    except ValueError:
        raise WdbcFormatError(
            f"line {line}, column {column!r}: {value!r} is not a number"
        ) from None
    if not math.isfinite(number):
        raise WdbcFormatError(f"line {line}, column {column!r}: {value!r} is not finite")
    return text


def _header_columns(fields: list[str], line: int) -> list[str]:
    if len(fields) == 1:
        separator = next((name for sep, name in _SEPARATORS.items() if sep in fields[0]), None)
        if separator:
            raise WdbcFormatError(
                f"line {line}: the columns are separated by {separator}; "
                "the layouts read here separate them by commas"
            )
    names = [canonical_name(f) for f in fields]
    # data.csv ends every line with a comma: one unnamed trailing column, always empty.
    while names and names[-1] == "":
        names.pop()
    if "" in names:
        raise WdbcFormatError(f"line {line}: column {names.index('') + 1} has no name")
    unknown = [n for n in names if n not in CANONICAL_COLUMNS]
    if unknown:
        shown = ", ".join(unknown[:5]) + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
        raise WdbcFormatError(f"line {line}: unknown column(s) {shown}")
    missing = [c for c in CANONICAL_COLUMNS if c not in names]
    if missing:
        raise WdbcFormatError(f"line {line}: missing column(s) {', '.join(missing)}")
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise WdbcFormatError(f"line {line}: duplicated column(s) {', '.join(dupes)}")
    return names


def _rows(lines: Iterable[str]) -> Iterator[tuple[int, list[str]]]:
    for line_no, fields in enumerate(csv.reader(lines), start=1):
        if not fields or all(not f.strip() for f in fields):
            continue
        yield line_no, fields


def _canonical_rows(lines: Iterable[str]) -> tuple[str, Iterator[tuple[int, dict[str, str]]]]:
    """Detects the layout from the first line; yields (line, {canonical column: text})."""
    rows = _rows(lines)
    first = next(rows, None)
    if first is None:
        raise WdbcFormatError("line 1: the file is empty")
    line_no, fields = first
    # UCI's file starts straight with a record, whose first field is a numeric id.
    is_headerless = fields[0].strip().isdigit()
    if is_headerless:
        layout, names = "uci-wdbc.data", list(CANONICAL_COLUMNS)
        pending: list[tuple[int, list[str]]] = [first]
    else:
        layout, names = "data.csv", _header_columns(fields, line_no)
        pending = []

    def generate() -> Iterator[tuple[int, dict[str, str]]]:
        seen_ids: dict[str, int] = {}
        count = 0
        for number, values in itertools.chain(pending, rows):
            while len(values) > len(names) and not values[-1].strip():
                values = values[:-1]
            if len(values) < len(names):
                raise WdbcFormatError(
                    f"line {number}: short row, {len(values)} fields where {len(names)} are "
                    f"expected (column {names[len(values)]!r} is missing)"
                )
            if len(values) > len(names):
                raise WdbcFormatError(
                    f"line {number}: {len(values)} fields where {len(names)} are expected"
                )
            record = dict(zip(names, values, strict=True))
            diagnosis = record[WDBC_LABEL].strip().upper()
            if diagnosis not in _DIAGNOSIS:
                raise WdbcFormatError(
                    f"line {number}, column {WDBC_LABEL!r}: {record[WDBC_LABEL]!r} is not M or B"
                )
            record[WDBC_LABEL] = _DIAGNOSIS[diagnosis]
            ident = record[WDBC_ID].strip()
            if not ident.isdigit():
                raise WdbcFormatError(
                    f"line {number}, column {WDBC_ID!r}: {ident!r} is not a whole number"
                )
            # Stored as a number: 0842328 and 842328 are one id.
            written, ident = ident, str(int(ident))
            if ident in seen_ids:
                shown = ident if written == ident else f"{written} (= {ident})"
                raise WdbcFormatError(
                    f"line {number}, column {WDBC_ID!r}: id {shown} already on line "
                    f"{seen_ids[ident]}"
                )
            seen_ids[ident] = number
            record[WDBC_ID] = ident
            for column in WDBC_FEATURES:
                record[column] = _finite(record[column], number, column)
            count += 1
            yield number, record
        if count == 0:
            raise WdbcFormatError(f"line {line_no}: header only, no data rows")

    return layout, generate()


def _sklearn_lines() -> Iterator[str]:
    """scikit-learn's copy as data.csv lines: no ids (row numbers stand in), 0 = malignant."""
    from sklearn.datasets import load_breast_cancer

    names = load_breast_cancer().feature_names
    path = resources.files("sklearn.datasets") / "data" / "breast_cancer.csv"
    with path.open() as handle:
        reader = csv.reader(handle)
        next(reader)  # n_samples, n_features, class names
        yield ",".join([WDBC_ID, WDBC_LABEL, *names]) + "\n"
        for row_no, row in enumerate(reader, start=1):
            *features, target = row
            diagnosis = "M" if target.strip() == "0" else "B"
            yield ",".join([str(row_no), diagnosis, *features]) + "\n"


def next_span(into: Path) -> int:
    spans = [
        int(p.name[len(SPAN_PREFIX):])
        for p in into.glob(f"{SPAN_PREFIX}*")
        if p.is_dir() and p.name[len(SPAN_PREFIX):].isdigit()
    ]
    return max(spans, default=0) + 1


def data_root_problem(root: Path) -> str | None:
    """Why the pipeline could not read `root` as WDBC spans, or None: the latest
    `span-<N>/` must hold canonical CSVs only (ExampleGen reads every file in it)."""
    latest = next_span(root) - 1
    how = f"bring a file in with `bcpipe data import-wdbc FILE --into {root}`"
    if latest == 0:
        return f"{root} holds no {SPAN_PREFIX}<N>/ folders; {how}"
    span = root / f"{SPAN_PREFIX}{latest}"
    files = sorted(p for p in span.iterdir() if p.is_file())
    if not files:
        return f"{span} is empty; {how}"
    expected = ",".join(CANONICAL_COLUMNS)
    for path in files:
        with open(path, newline="", encoding="utf-8", errors="replace") as handle:
            header = handle.readline().strip()
        if header != expected:
            return (f"{path} is not a canonical WDBC CSV (its first line starts "
                    f"{header[:40]!r}); import the original with `bcpipe data import-wdbc "
                    f"FILE --into {root}`, which writes the next span")
    return None


def import_wdbc(source: Path | None, into: Path, *, sklearn: bool = False) -> ImportResult:
    """Validates the whole source, then adds it to `into` as the next span.

    Nothing under `into` is created or changed unless the whole file is accepted.
    """
    if sklearn == (source is not None):
        raise ValueError("give either a source file or sklearn=True")
    with tempfile.TemporaryDirectory(prefix="bcpipe-wdbc-") as staging:
        staged = Path(staging) / CANONICAL_FILE
        if sklearn:
            layout, stats = _write_canonical(_sklearn_lines(), staged)
            layout = "scikit-learn"
        else:
            if not source.is_file():
                raise FileNotFoundError(f"{source}: no such file")
            try:
                with open(source, newline="", encoding="utf-8-sig") as handle:
                    layout, stats = _write_canonical(handle, staged)
            except (UnicodeDecodeError, csv.Error) as err:
                raise WdbcFormatError(
                    f"not a UTF-8 text CSV (UTF-16, a spreadsheet or another binary file?); "
                    f"save it as CSV, UTF-8 ({err})"
                ) from None
        into.mkdir(parents=True, exist_ok=True)
        span = next_span(into)
        target = into / f"{SPAN_PREFIX}{span}"
        target.mkdir()
        shutil.move(str(staged), target / CANONICAL_FILE)
    rows, malignant = stats
    return ImportResult(span, target / CANONICAL_FILE, rows, malignant, layout)


def _write_canonical(lines: Iterable[str], out: Path) -> tuple[str, tuple[int, int]]:
    layout, records = _canonical_rows(lines)
    rows = malignant = 0
    with open(out, "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(CANONICAL_COLUMNS)
        for _, record in records:
            writer.writerow([record[c] for c in CANONICAL_COLUMNS])
            rows += 1
            malignant += record[WDBC_LABEL] == "1"
    return layout, (rows, malignant)

