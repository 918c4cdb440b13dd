"""axe-core in the browser tests: a page fails on any serious or critical finding.

axe-core itself (``axe.min.js``, MPL-2.0, Deque Systems) comes from the
``axe-playwright-python`` wheel of the test extra; only that file of the wheel is used, so a
fresh machine needs nothing but ``./dev test``. It runs in the page through Playwright (the
pages' Content-Security-Policy does not apply to the test's own evaluation).

A run costs a few hundred milliseconds, so each kind of page is checked once per test
session (:func:`check_once`): the journeys call it at the pages they visit anyway.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from axe_playwright_python.base import AXE_FILE_PATH
from playwright.sync_api import Page

BLOCKING = frozenset({"serious", "critical"})
_checked: set[str] = set()


@cache
def _axe_source() -> str:
    return AXE_FILE_PATH.read_text(encoding="utf-8")


def findings(page: Page) -> list[str]:
    """axe-core's serious and critical findings on the page as it is now, one line each:
    the rule, its impact, what it asks and the elements that fail it."""
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(_axe_source())
    results: dict[str, Any] = page.evaluate(
        "axe.run(document, {resultTypes: ['violations']})"
    )
    lines = []
    for violation in results["violations"]:
        if violation["impact"] not in BLOCKING:
            continue
        targets = [" ".join(map(str, node["target"])) for node in violation["nodes"][:5]]
        lines.append(
            f"{violation['id']} ({violation['impact']}): {violation['help']} — "
            + "; ".join(targets)
        )
    return lines


def check(page: Page) -> None:
    """Fail on any serious or critical finding on this page."""
    found = findings(page)
    lang = page.evaluate("document.documentElement.lang")
    assert found == [], f"axe-core on {page.url} ({lang}):\n" + "\n".join(found)


def page_kind(page: Page) -> str:
    """``/admin/orders/12`` → ``/admin/orders/{id}``, with the page's language."""
    path = re.sub(r"/\d+(?=/|$)", "/{id}", urlsplit(page.url).path)
    return f"{path}:{page.evaluate('document.documentElement.lang')}"


def check_once(page: Page) -> None:
    """:func:`check`, for the first page of its kind (path and language) in the session."""
    kind = page_kind(page)
    if kind in _checked:
        return
    _checked.add(kind)
    check(page)
