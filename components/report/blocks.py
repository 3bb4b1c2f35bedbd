"""The report as a list of format-free blocks; the HTML and Markdown writers render them,
so the two say the same thing by construction."""

from __future__ import annotations

from dataclasses import dataclass, field

# A table cell: plain text, or (text, tone) where tone is "good", "bad" or "warn".
Cell = str | tuple[str, str]


@dataclass
class Para:
    text: str
    tone: str = ""


@dataclass
class Items:
    items: list[str]


@dataclass
class Table:
    headers: list[str]
    rows: list[list[Cell]]
    caption: str = ""


@dataclass
class Figures:
    svgs: list[str]
    caption: str = ""


@dataclass
class Pre:
    text: str


@dataclass
class Heading:
    text: str


@dataclass
class Section:
    id: str
    title: str
    blocks: list = field(default_factory=list)


def cell_text(cell: Cell) -> str:
    return cell[0] if isinstance(cell, tuple) else cell


def cell_tone(cell: Cell) -> str:
    return cell[1] if isinstance(cell, tuple) else ""
