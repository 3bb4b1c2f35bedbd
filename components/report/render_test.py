import base64
import re

from components.report import html, markdown, svg
from components.report.blocks import Figures, Heading, Items, Para, Pre, Section, Table

HOSTILE = '<script>alert("x")</script> | a|b'


def _sections() -> list[Section]:
    chart = svg.line_chart("ROC", [("eval", [(0.0, 0.0), (0.5, float("nan")), (1.0, 1.0)])],
                           x_label="fpr", y_label="tpr", diagonal=True,
                           markers=[("eval", 0.1, 0.9)])
    return [
        Section("decision", "Decision", [Para(HOSTILE, tone="bad"), Items([HOSTILE])]),
        Section("data", "Data", [
            Heading("Splits"),
            Table(["split", "note"], [["eval", (HOSTILE, "warn")]], caption="caption"),
            Figures([chart], caption="curves"),
            Pre(HOSTILE),
        ]),
    ]


def test_html_escapes_data_and_fetches_nothing():
    page = html.render("Review", _sections())
    assert "<script" not in page and "&lt;script&gt;" in page
    assert '<section id="decision">' in page and '<section id="data">' in page
    assert '<td class="warn">' in page and '<p class="bad">' in page
    # The only URL is the SVG namespace, which is an identifier, not a fetch.
    urls = set(re.findall(r'(?:src|href)="([^"#][^"]*)"', page))
    assert urls == set()
    assert page.count("<svg") == 1 and "NaN" not in page.split("<svg", 1)[1]


def test_markdown_says_the_same_with_tables_and_embedded_plots():
    text = markdown.render("Review", _sections())
    assert "## Decision" in text and "### Splits" in text
    assert "| eval | &lt;script&gt;alert(\"x\")&lt;/script&gt; \\| a\\|b |" in text
    assert "<script" not in text.split("```")[0]  # a code block shows it as text
    (encoded,) = re.findall(r"!\[ROC\]\(data:image/svg\+xml;base64,([^)]+)\)", text)
    assert base64.b64decode(encoded).decode().startswith("<svg")
    assert "**ATTENTION: " in text


def test_histogram_of_a_constant_feature_still_draws():
    drawn = svg.histogram("zeros", {"train": [[0.0, 0.0, 10.0]]}, x_label="zeros")
    assert drawn.startswith("<svg") and "polyline" in drawn
    assert svg.histogram("empty", {}, x_label="x") == ""
