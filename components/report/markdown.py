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


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _table(block: Table) -> str:
    lines = []
    if block.caption:
        lines.append(f"*{block.caption}*\n")
    lines.append("| " + " | ".join(_cell(h) or " " for h in block.headers) + " |")
    lines.append("|" + "---|" * len(block.headers))
    lines += ["| " + " | ".join(_cell(cell_text(c)) for c in row) + " |" for row in block.rows]
    return "\n".join(lines)


def _svg_title(svg: str) -> str:
    match = re.search(r"<title>(.*?)</title>", svg)
    return match.group(1) if match else "plot"


def _block(block) -> str:
    if isinstance(block, Para):
        return f"**{_TONE_MARK[block.tone]}: {block.text}**" if block.tone else block.text
    if isinstance(block, Heading):
        return f"### {block.text}"
    if isinstance(block, Items):
        return "\n".join(f"- {item}" for item in block.items)
    if isinstance(block, Table):
        return _table(block)
    if isinstance(block, Figures):
        images = " ".join(
            f"![{_svg_title(svg)}](data:image/svg+xml;base64,"
            f"{base64.b64encode(svg.encode()).decode()})" for svg in block.svgs
        )
        return images + (f"\n\n*{block.caption}*" if block.caption else "")
    if isinstance(block, Pre):
        return f"```\n{block.text}\n```"
    raise TypeError(f"no Markdown for {type(block).__name__}")


def render(title: str, sections: list[Section]) -> str:
    parts = [f"# {title}", " · ".join(f"[{s.title}](#{s.id})" for s in sections)]
    for s in sections:
        parts.append(f'<a id="{s.id}"></a>\n\n## {s.title}')
        parts += [_block(b) for b in s.blocks]
    return "\n\n".join(parts) + "\n"
