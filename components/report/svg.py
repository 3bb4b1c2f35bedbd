"""Small inline-SVG charts: the page must carry its plots, with no script and no fetch."""

from __future__ import annotations

import math
from html import escape

COLORS = {"train": "#4c72b0", "eval": "#dd8452", "test": "#55a868", "baseline": "#8c8c8c",
          "reference": "#bbbbbb"}
_PALETTE = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860")
_W, _H = 300, 240
_LEFT, _RIGHT, _TOP, _BOTTOM = 60, 20, 24, 40


def color(name: str, index: int = 0) -> str:
    return COLORS.get(name, _PALETTE[index % len(_PALETTE)])


def _fmt(value: float) -> str:
    if value == 0 or 1e-3 <= abs(value) < 1e4:
        return f"{value:.3g}"
    return f"{value:.1e}"


class _Frame:
    """Maps data coordinates to the drawing area and draws the axes."""

    def __init__(self, x_range, y_range, width=_W, height=_H):
        self.x0, self.x1 = x_range
        self.y0, self.y1 = y_range
        if self.x1 <= self.x0:
            self.x1 = self.x0 + 1
        if self.y1 <= self.y0:
            self.y1 = self.y0 + 1
        self.width, self.height = width, height

    def x(self, value: float) -> float:
        span = self.width - _LEFT - _RIGHT
        return _LEFT + (value - self.x0) / (self.x1 - self.x0) * span

    def y(self, value: float) -> float:
        span = self.height - _TOP - _BOTTOM
        return self.height - _BOTTOM - (value - self.y0) / (self.y1 - self.y0) * span

    def axes(self, x_label: str, y_label: str) -> list[str]:
        parts = [
            f'<line x1="{_LEFT}" y1="{self.y(self.y0):.1f}" x2="{self.width - _RIGHT}" '
            f'y2="{self.y(self.y0):.1f}" stroke="#333"/>',
            f'<line x1="{_LEFT}" y1="{_TOP}" x2="{_LEFT}" y2="{self.y(self.y0):.1f}" '
            f'stroke="#333"/>',
        ]
        for k in range(5):
            xv = self.x0 + (self.x1 - self.x0) * k / 4
            yv = self.y0 + (self.y1 - self.y0) * k / 4
            parts.append(f'<text x="{self.x(xv):.1f}" y="{self.y(self.y0) + 14:.1f}" '
                         f'font-size="10" text-anchor="middle">{_fmt(xv)}</text>')
            parts.append(f'<text x="{_LEFT - 4}" y="{self.y(yv) + 3:.1f}" font-size="10" '
                         f'text-anchor="end">{_fmt(yv)}</text>')
        parts.append(f'<text x="{(_LEFT + self.width - _RIGHT) / 2:.1f}" '
                     f'y="{self.height - 6}" font-size="11" text-anchor="middle">'
                     f'{escape(x_label)}</text>')
        parts.append(f'<text x="10" y="{(self.height - _BOTTOM + _TOP) / 2:.1f}" font-size="11" '
                     f'text-anchor="middle" transform="rotate(-90 10 '
                     f'{(self.height - _BOTTOM + _TOP) / 2:.1f})">{escape(y_label)}</text>')
        return parts


def _svg(frame: _Frame, title: str, body: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{frame.width}" '
        f'height="{frame.height}" viewBox="0 0 {frame.width} {frame.height}" role="img" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>'
        f'<text x="{frame.width / 2:.1f}" y="14" font-size="12" font-weight="bold" '
        f'text-anchor="middle">{escape(title)}</text>{"".join(body)}</svg>'
    )


def _legend(frame: _Frame, names: list[tuple[str, str]]) -> list[str]:
    parts = []
    for k, (name, stroke) in enumerate(names):
        y = _TOP + 6 + 13 * k
        x = frame.width - _RIGHT - 70
        parts.append(f'<line x1="{x}" y1="{y}" x2="{x + 14}" y2="{y}" stroke="{stroke}" '
                     f'stroke-width="2"/><text x="{x + 18}" y="{y + 4}" font-size="10">'
                     f'{escape(name)}</text>')
    return parts


def line_chart(
    title: str,
    series: list[tuple[str, list[tuple[float, float]]]],
    *,
    x_label: str,
    y_label: str,
    x_range=(0.0, 1.0),
    y_range=(0.0, 1.0),
    diagonal: bool = False,
    markers: list[tuple[str, float, float]] = (),
) -> str:
    """Lines (name, [(x, y)]); a diagonal for ROC and calibration; labelled markers."""
    frame = _Frame(x_range, y_range)
    body = frame.axes(x_label, y_label)
    if diagonal:
        body.append(f'<line x1="{frame.x(x_range[0]):.1f}" y1="{frame.y(y_range[0]):.1f}" '
                    f'x2="{frame.x(x_range[1]):.1f}" y2="{frame.y(y_range[1]):.1f}" '
                    f'stroke="{COLORS["reference"]}" stroke-dasharray="4 3"/>')
    legend = []
    for k, (name, points) in enumerate(series):
        clean = [(x, y) for x, y in points if _finite(x) and _finite(y)]
        if not clean:
            continue
        stroke = color(name, k)
        path = " ".join(f"{frame.x(x):.1f},{frame.y(y):.1f}" for x, y in clean)
        body.append(f'<polyline fill="none" stroke="{stroke}" stroke-width="1.8" '
                    f'points="{path}"/>')
        legend.append((name, stroke))
    for k, (name, x, y) in enumerate(markers):
        if _finite(x) and _finite(y):
            body.append(f'<circle cx="{frame.x(x):.1f}" cy="{frame.y(y):.1f}" r="4" '
                        f'fill="{color(name, k)}" stroke="#000"><title>{escape(name)} '
                        f'operating point ({x:.3f}, {y:.3f})</title></circle>')
    return _svg(frame, title, body + _legend(frame, legend))


def _finite(value) -> bool:
    return value is not None and math.isfinite(value)


def histogram(title: str, splits: dict[str, list[list[float]]], *, x_label: str) -> str:
    """Each split's TFDV histogram as a step line of the share of examples per unit."""
    edges = [b for buckets in splits.values() for bucket in buckets for b in bucket[:2]
             if _finite(b)]
    if not edges:
        return ""
    series, top = [], 0.0
    for split, buckets in splits.items():
        total = sum(b[2] for b in buckets) or 1.0
        points = []
        for low, high, count in buckets:
            if not (_finite(low) and _finite(high)):
                continue
            density = count / total / max(high - low, 1e-12)
            points += [(low, density), (high, density)]
            top = max(top, density)
        series.append((split, points))
    return line_chart(title, series, x_label=x_label, y_label="share per unit",
                      x_range=(min(edges), max(edges)), y_range=(0.0, top * 1.05 or 1.0))


def stacked_bars(title: str, rows: list[tuple[str, list[tuple[str, float, str]]]]) -> str:
    """One horizontal bar per row, segments (name, value, color), labelled with values."""
    height = _TOP + 26 * len(rows) + 10
    frame = _Frame((0, 1), (0, 1), height=height)
    body = []
    for k, (label, segments) in enumerate(rows):
        y = _TOP + 26 * k
        total = sum(v for _, v, _ in segments) or 1.0
        x = _LEFT + 14
        body.append(f'<text x="{_LEFT + 10}" y="{y + 14}" font-size="11" text-anchor="end">'
                    f'{escape(label)}</text>')
        for name, value, fill in segments:
            width = (frame.width - _LEFT - _RIGHT - 14) * value / total
            body.append(f'<rect x="{x:.1f}" y="{y}" width="{width:.1f}" height="18" '
                        f'fill="{fill}"><title>{escape(name)}: {_fmt(value)}</title></rect>')
            if width > 28:
                body.append(f'<text x="{x + width / 2:.1f}" y="{y + 13}" font-size="10" '
                            f'fill="#fff" text-anchor="middle">{_fmt(value)}</text>')
            x += width
    return _svg(frame, title, body)
