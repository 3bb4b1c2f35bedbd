"""One self-contained HTML page: inline style, inline SVG, no script, nothing fetched."""

from __future__ import annotations

from html import escape

from components.report.blocks import (
    Figures,
    Heading,
    Items,
    Para,
    Pre,
    Section,
    Table,
    cell_text,
    cell_tone,
)

_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;
margin:0 auto;max-width:1200px;padding:0 16px 48px;color:#1d1d1f;line-height:1.4}
header{border-bottom:2px solid #333;margin-bottom:8px}
nav a{margin-right:14px}
section{margin-top:28px;border-top:1px solid #ccc}
h1{font-size:24px}h2{font-size:20px;margin-top:18px}h3{font-size:16px;margin:18px 0 6px}
table{border-collapse:collapse;margin:8px 0 12px;font-size:13px}
caption{text-align:left;font-style:italic;padding:4px 0;color:#444}
th,td{border:1px solid #ccc;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#f2f2f2}
td{overflow-wrap:break-word;max-width:520px}
td:first-child{white-space:nowrap}
.good{background:#e3f4e1}.bad{background:#fbe1df}.warn{background:#fff3cd}
p.good,p.bad,p.warn{padding:8px 10px;border-radius:4px;font-weight:600}
figure{margin:8px 0}figure svg{margin:0 8px 8px 0;background:#fff;border:1px solid #e6e6e6}
figcaption{font-style:italic;color:#444;font-size:13px}
pre{background:#f6f6f6;padding:8px;overflow-x:auto;font-size:12px}
"""


def _table(block: Table) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in block.headers)
    body = "".join(
        "<tr>" + "".join(
            f'<td class="{cell_tone(c)}">{escape(cell_text(c))}</td>' if cell_tone(c)
            else f"<td>{escape(cell_text(c))}</td>" for c in row
        ) + "</tr>"
        for row in block.rows
    )
    caption = f"<caption>{escape(block.caption)}</caption>" if block.caption else ""
    return f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _block(block) -> str:
    if isinstance(block, Para):
        tone = f' class="{block.tone}"' if block.tone else ""
        return f"<p{tone}>{escape(block.text)}</p>"
    if isinstance(block, Heading):
        return f"<h3>{escape(block.text)}</h3>"
    if isinstance(block, Items):
        return "<ul>" + "".join(f"<li>{escape(i)}</li>" for i in block.items) + "</ul>"
    if isinstance(block, Table):
        return _table(block)
    if isinstance(block, Figures):
        caption = f"<figcaption>{escape(block.caption)}</figcaption>" if block.caption else ""
        return f"<figure>{''.join(block.svgs)}{caption}</figure>"
    if isinstance(block, Pre):
        return f"<pre>{escape(block.text)}</pre>"
    raise TypeError(f"no HTML for {type(block).__name__}")


def render(title: str, sections: list[Section]) -> str:
    nav = "".join(f'<a href="#{s.id}">{escape(s.title)}</a>' for s in sections)
    body = "".join(
        f'<section id="{s.id}"><h2>{escape(s.title)}</h2>'
        + "".join(_block(b) for b in s.blocks) + "</section>"
        for s in sections
    )
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><header><h1>{escape(title)}</h1><nav>{nav}</nav></header>{body}</body></html>\n"
    )
