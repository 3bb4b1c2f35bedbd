"""The same page as Markdown; plots travel as SVG data URIs."""

from __future__ import annotations

import base64
import re

from components.report.blocks import (
    Figures,
    Heading,
    Items,
    Para,
    Pre,
    Section,
    Table,
    cell_text,
)

_TONE_MARK = {"good": "OK", "bad": "ATTENTION", "warn": "NOTE"}


def _text(text: str) -> str:
    """Markdown passes HTML through: data (e.g. a TFDV description) must not become markup."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cell(text: str) -> str:
    return _text(text).replace("|", "\\|").replace("\n", " ")


def _table(block: Table) -> str:
    lines = []
    if block.caption:
        lines.append(f"*{_text(block.caption)}*\n")
    lines.append("| " + " | ".join(_cell(h) or " " for h in block.headers) + " |")
    lines.append("|" + "---|" * len(block.headers))
    lines += ["| " + " | ".join(_cell(cell_text(c)) for c in row) + " |" for row in block.rows]
    return "\n".join(lines)


def _svg_title(svg: str) -> str:
    match = re.search(r"<title>(.*?)</title>", svg)
    return match.group(1) if match else "plot"


def _block(block) -> str:
    if isinstance(block, Para):
        text = _text(block.text)
        return f"**{_TONE_MARK[block.tone]}: {text}**" if block.tone else text
    if isinstance(block, Heading):
        return f"### {_text(block.text)}"
    if isinstance(block, Items):
        return "\n".join(f"- {_text(item)}" for item in block.items)
    if isinstance(block, Table):
        return _table(block)
    if isinstance(block, Figures):
        images = " ".join(
            f"![{_svg_title(svg)}](data:image/svg+xml;base64,"
            f"{base64.b64encode(svg.encode()).decode()})" for svg in block.svgs
        )
        return images + (f"\n\n*{_text(block.caption)}*" if block.caption else "")
    if isinstance(block, Pre):
        return f"```\n{block.text}\n```"
    raise TypeError(f"no Markdown for {type(block).__name__}")


def render(title: str, sections: list[Section]) -> str:
    parts = [f"# {title}", " · ".join(f"[{s.title}](#{s.id})" for s in sections)]
    for s in sections:
        parts.append(f'<a id="{s.id}"></a>\n\n## {s.title}')
        parts += [_block(b) for b in s.blocks]
    return "\n\n".join(parts) + "\n"
