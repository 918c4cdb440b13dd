"""Charts as inline SVG, drawn on the server: no script, no library, nothing to download.

Numbers go into coordinates, labels through ``escape``; the markup is then safe to embed.
The drawing is small (``WIDTH`` units) so that a card on a phone or in a two-column grid
shows its labels at ``FONT_SIZE`` or more (the stylesheet caps how far a chart grows). In a
right-to-left language a chart is mirrored: labels on the right, bars growing leftwards and
days running from right to left, as the language reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from markupsafe import Markup, escape

WIDTH = 400
FONT_SIZE = 14  # units of the drawing; on screen at least 11 px down to a 320 px wide chart
BAR_HEIGHT = 22
GAP = 8
LABEL_WIDTH = 110


@dataclass(frozen=True)
class Series:
    name: str
    css_class: str  # "bar" or "bar profit"
    values: Sequence[Decimal | int]


class _Canvas:
    """Coordinates drawn left to right, mirrored when the page reads right to left."""

    def __init__(self, height: int, title: str, rtl: bool) -> None:
        self.rtl = rtl
        direction = "rtl" if rtl else "ltr"
        self.parts = [
            f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" direction="{direction}" '
            f'font-size="{FONT_SIZE}" role="img" aria-label="{escape(title)}" '
            'xmlns="http://www.w3.org/2000/svg">'
        ]

    def x(self, x: float, width: float = 0) -> float:
        return WIDTH - x - width if self.rtl else x

    def text(self, x: float, y: float, label: str, anchor: str = "start") -> None:
        """``anchor`` as on the left-to-right drawing ("end": the text ends at ``x``). Once
        mirrored, the text reads right to left, so the same anchor puts it on the mirrored
        side: no swap is needed."""
        self.parts.append(
            f'<text x="{self.x(x):.1f}" y="{y:.1f}" text-anchor="{anchor}">{escape(label)}</text>'
        )

    def markup(self) -> Markup:
        return Markup("".join([*self.parts, "</svg>"]))  # noqa: S704 - labels are escaped


def horizontal_bars(items: Sequence[tuple[str, int]], title: str, *, rtl: bool = False) -> Markup:
    """One bar per label (orders by status)."""
    height = max(1, len(items)) * (BAR_HEIGHT + GAP) + GAP
    top = max([value for _, value in items] + [1])
    room = WIDTH - LABEL_WIDTH - 50
    canvas = _Canvas(height, title, rtl)
    for index, (label, value) in enumerate(items):
        y = GAP + index * (BAR_HEIGHT + GAP)
        width = 0 if value == 0 else max(2, round(room * value / top))
        canvas.text(LABEL_WIDTH - 8, y + 16, label, "end")
        canvas.parts.append(
            f'<rect class="bar" x="{canvas.x(LABEL_WIDTH, width)}" y="{y}" width="{width}" '
            f'height="{BAR_HEIGHT}" rx="3"/>'
        )
        canvas.text(LABEL_WIDTH + width + 6, y + 16, str(value), "start")
    return canvas.markup()


def columns(
    labels: Sequence[str], series: Sequence[Series], title: str, *, rtl: bool = False
) -> Markup:
    """Side-by-side columns per day (revenue and profit), with a few date labels."""
    height, bottom, left = 220, 190, 60
    count = max(1, len(labels))
    slot = (WIDTH - left - 24) / count  # room for half the last date beyond its column
    each = max(1.0, (slot - 2) / max(1, len(series)))
    top = max([Decimal(v) for s in series for v in s.values] + [Decimal(1)])
    canvas = _Canvas(height, title, rtl)
    canvas.parts.append(
        f'<line class="axis" x1="{canvas.x(left)}" y1="{bottom}" x2="{canvas.x(WIDTH - 4)}" '
        f'y2="{bottom}"/>'
    )
    canvas.text(left - 6, 16, f"{top:.2f}", "end")
    canvas.text(left - 6, bottom, "0", "end")
    for index, label in enumerate(labels):
        x0 = left + index * slot + 1
        for number, current in enumerate(series):
            value = Decimal(current.values[index])
            bar = float(max(Decimal(0), value) / top) * (bottom - 24)
            width = max(1.0, each - 1)
            canvas.parts.append(
                f'<rect class="{escape(current.css_class)}" '
                f'x="{canvas.x(x0 + number * each, width):.1f}" '
                f'y="{bottom - bar:.1f}" width="{width:.1f}" height="{bar:.1f}">'
                f"<title>{escape(label)} {escape(current.name)}: {escape(f'{value:.2f}')}</title>"
                "</rect>"
            )
        # A date every few days, counted back from the last one (always shown).
        if (count - 1 - index) % max(1, count // 4) == 0:
            canvas.text(x0 + slot / 2, bottom + 20, label, "middle")
    return canvas.markup()
