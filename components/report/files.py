"""The report's files: JSON is the content; HTML and Markdown are renderings of it."""

from __future__ import annotations

import json
import math
import os

import tensorflow as tf

from components.report import html, markdown, page

REPORT_JSON = "report.json"
REPORT_HTML = "report.html"
REPORT_MD = "report.md"
MODEL_CARD_JSON = "model_card.json"


def _clean(value):
    """JSON has no NaN or infinity: they become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def _write(path: str, text: str) -> None:
    with tf.io.gfile.GFile(path, "w") as handle:
        handle.write(text)


def write(report: dict, out_dir: str, *, table_rows: int) -> dict[str, str]:
    """Writes report.json, report.html, report.md and model_card.json; returns their paths."""
    tf.io.gfile.makedirs(out_dir)
    report = _clean(report)
    sections = page.sections(report, table_rows)
    title = page.title(report)
    paths = {name: os.path.join(out_dir, name)
             for name in (REPORT_JSON, REPORT_HTML, REPORT_MD, MODEL_CARD_JSON)}
    # Key order is kept (train before eval before test): a re-render reads the same order.
    _write(paths[REPORT_JSON], json.dumps(report, indent=1, allow_nan=False))
    _write(paths[MODEL_CARD_JSON], json.dumps(report["model_card"], indent=1,
                                              allow_nan=False))
    _write(paths[REPORT_HTML], html.render(title, sections))
    _write(paths[REPORT_MD], markdown.render(title, sections))
    return paths


def read(out_dir: str) -> dict:
    with tf.io.gfile.GFile(os.path.join(out_dir, REPORT_JSON)) as handle:
        return json.load(handle)
