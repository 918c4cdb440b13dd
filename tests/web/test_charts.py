"""The staff charts: labels large enough to read, and mirrored in a right-to-left language."""

from __future__ import annotations

import re
from decimal import Decimal

from opensmm.admin import charts


def _texts(svg: str) -> list[tuple[float, str, str]]:
    return [(float(x), anchor, label) for x, anchor, label in
            re.findall(r'<text x="([\d.]+)" y="[\d.]+" text-anchor="(\w+)">([^<]*)</text>', svg)]


def test_bars_are_mirrored_right_to_left() -> None:
    items = [("Pending", 2), ("Canceled", 1)]
    ltr = str(charts.horizontal_bars(items, "Orders"))
    rtl = str(charts.horizontal_bars(items, "Orders", rtl=True))
    assert 'direction="ltr"' in ltr and 'direction="rtl"' in rtl
    assert f'font-size="{charts.FONT_SIZE}"' in rtl
    (lx, _, label), *_ = _texts(ltr)
    (rx, _, _), *_ = _texts(rtl)
    assert label == "Pending"
    assert rx == charts.WIDTH - lx  # the label sits on the right, as far from the edge
    bar_ltr = re.search(r'<rect class="bar" x="([\d.]+)" y="\d+" width="(\d+)"', ltr)
    bar_rtl = re.search(r'<rect class="bar" x="([\d.]+)" y="\d+" width="(\d+)"', rtl)
    assert bar_ltr and bar_rtl
    assert float(bar_rtl[1]) + float(bar_rtl[2]) == charts.WIDTH - float(bar_ltr[1])


def test_columns_run_right_to_left_and_show_the_last_day() -> None:
    days = [f"11-{n:02}" for n in range(1, 15)]
    series = [charts.Series("Revenue", "bar", [Decimal(n) for n in range(14)])]
    rtl = _texts(str(charts.columns(days, series, "Money", rtl=True)))
    dates = [(x, label) for x, _, label in rtl if label in days]
    assert dates[-1][1] == "11-14"  # the last day is always labelled
    assert [x for x, _ in dates] == sorted((x for x, _ in dates), reverse=True)  # leftwards
    assert all(x <= charts.WIDTH for x, _ in dates)
