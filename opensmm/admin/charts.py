"""Charts as inline SVG, drawn on the server: no script, no library, nothing to download.

Numbers go into coordinates, labels through ``escape``; the markup is then safe to embed.
Charts are drawn left to right in both languages (``direction="ltr"``), like the numbers
in them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from markupsafe import Markup, escape

WIDTH = 640
BAR_HEIGHT = 22
GAP = 8
LABEL_WIDTH = 110


@dataclass(frozen=True)
class Series:
    name: str
    css_class: str  # "bar" or "bar profit"
    values: Sequence[Decimal | int]


def horizontal_bars(items: Sequence[tuple[str, int]], title: str) -> Markup:
    """One bar per label (orders by status)."""
    height = max(1, len(items)) * (BAR_HEIGHT + GAP) + GAP
    top = max([value for _, value in items] + [1])
    room = WIDTH - LABEL_WIDTH - 60
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" direction="ltr" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">'
    ]
    for index, (label, value) in enumerate(items):
        y = GAP + index * (BAR_HEIGHT + GAP)
        width = 0 if value == 0 else max(2, round(room * value / top))
        parts.append(
            f'<text x="{LABEL_WIDTH - 8}" y="{y + 15}" text-anchor="end">{escape(label)}</text>'
            f'<rect class="bar" x="{LABEL_WIDTH}" y="{y}" width="{width}" height="{BAR_HEIGHT}" '
            f'rx="3"/><text x="{LABEL_WIDTH + width + 6}" y="{y + 15}">{value}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated label is escaped


def columns(labels: Sequence[str], series: Sequence[Series], title: str) -> Markup:
    """Side-by-side columns per day (revenue and profit), with a few date labels."""
    height, bottom, left = 220, 190, 56
    count = max(1, len(labels))
    slot = (WIDTH - left - 8) / count
    each = max(1.0, (slot - 2) / max(1, len(series)))
    top = max([Decimal(v) for s in series for v in s.values] + [Decimal(1)])
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" direction="ltr" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f'<line class="axis" x1="{left}" y1="{bottom}" x2="{WIDTH - 4}" y2="{bottom}"/>',
        f'<text x="{left - 6}" y="14" text-anchor="end">{escape(f"{top:.2f}")}</text>',
        f'<text x="{left - 6}" y="{bottom}" text-anchor="end">0</text>',
    ]
    for index, label in enumerate(labels):
        x0 = left + index * slot + 1
        for number, current in enumerate(series):
            value = Decimal(current.values[index])
            bar = float(max(Decimal(0), value) / top) * (bottom - 20)
            parts.append(
                f'<rect class="{escape(current.css_class)}" x="{x0 + number * each:.1f}" '
                f'y="{bottom - bar:.1f}" width="{max(1.0, each - 1):.1f}" height="{bar:.1f}">'
                f"<title>{escape(label)} {escape(current.name)}: {escape(f'{value:.2f}')}</title>"
                "</rect>"
            )
        if index % max(1, count // 6) == 0 or index == count - 1:
            parts.append(
                f'<text x="{x0 + slot / 2:.1f}" y="{bottom + 16}" text-anchor="middle">'
                f"{escape(label)}</text>"
            )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated label is escaped
