"""Dark pages in a real browser: with the owner's ``theme_mode`` set to ``auto``, a visitor
whose system asks for dark colours gets dark pages (landing page, sidebar, back office, the
phone's menu), and axe-core finds no serious finding on them (contrast above all), in
English and in Arabic."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

from opensmm.audit.actor import Actor
from opensmm.panel_settings import service as panel_settings
from tests.support.panel import Panel
from tests.web import axe
from tests.web.support import make_person
from tests.web.test_browser import browser, log_in, new_context, watch_errors

pytestmark = pytest.mark.browser
__all__ = ["browser"]  # the module's Chromium, shared with test_browser's fixture

CUSTOMER_PAGES = ["/dashboard", "/order/new", "/orders", "/services", "/funds", "/tickets"]
STAFF_PAGES = ["/admin", "/admin/orders", "/admin/services", "/admin/users", "/admin/settings"]

# The page's background, as a luminance 0..1 (WCAG's formula on the computed colour).
BACKGROUND_LUMINANCE = """(() => {
  const colour = getComputedStyle(document.documentElement).backgroundColor;
  const rgb = colour.match(/\\d+(\\.\\d+)?/g).map(Number);
  const [r, g, b] = rgb.slice(0, 3).map(v => {
    v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
})()"""


@pytest.fixture(scope="module")
def dark_shop(fast_panel: Panel) -> Panel:
    with fast_panel.write() as session:
        panel_settings.set_value(session, "theme_mode", "auto", Actor.cli())
    fast_panel.service(name="Followers HQ", category="Instagram Followers", rate="0.90")
    fast_panel.service(name="Views fast", category="TikTok Views", rate="0.02")
    return fast_panel


def dark(page: Page) -> None:
    """The page is drawn dark (not only asked to be), then axe-core checks it."""
    luminance = page.evaluate(BACKGROUND_LUMINANCE)
    assert luminance < 0.05, (page.url, luminance)
    axe.check(page)


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_dark_pages_read_well(browser: Browser, dark_shop: Panel, lang: str) -> None:
    customer = make_person(dark_shop, balance="25")
    staff = make_person(dark_shop, staff=True)
    for phone in (False, True):
        page = new_context(browser, dark_shop, lang=lang, phone=phone).new_page()
        page.emulate_media(color_scheme="dark")
        errors = watch_errors(page)
        for path in ("/", "/login", "/signup"):
            page.goto(path)
            dark(page)
        for person, paths in ((customer, CUSTOMER_PAGES), (staff, STAFF_PAGES)):
            log_in(page, person)
            for path in paths:
                page.goto(path)
                dark(page)
            if phone:  # the folded sidebar, opened
                page.locator(".nav-button").click()
                expect(page.locator("#site-menu")).to_be_visible()
                dark(page)
            page.context.clear_cookies()
            page.context.add_cookies([{"name": "opensmm_lang", "value": lang,
                                       "url": dark_shop.url}])
        assert errors == []
        page.context.close()


def test_light_system_keeps_light_pages(browser: Browser, dark_shop: Panel) -> None:
    """``auto`` follows the visitor's system: a light one gets the light pages."""
    page = new_context(browser, dark_shop).new_page()
    page.emulate_media(color_scheme="light")
    page.goto("/")
    assert page.evaluate(BACKGROUND_LUMINANCE) > 0.8
    page.context.close()
