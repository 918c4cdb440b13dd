"""The storefront in a real browser (Chromium): the landing page in English and Arabic (right
to left, no sideways scroll at 390 px, axe-core clean, the platform icons drawn), and the
service search on New order and Services (typing filters the list and the live region says
how many match, in the page's language)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, expect

from opensmm.i18n.translate import Translator
from tests.support.panel import Panel
from tests.web import axe
from tests.web.support import make_person
from tests.web.test_browser import browser, log_in, new_context, watch_errors

pytestmark = pytest.mark.browser
__all__ = ["browser"]  # the module's Chromium, shared with test_browser's fixture

CATALOG = (
    ("Instagram Followers", "Followers HQ", "0.90"),
    ("Instagram Followers", "Followers cheap", "0.12"),
    ("TikTok Views", "Views fast", "0.02"),
    ("TikTok Views", "Views slow", "0.01"),
    ("TikTok Views", "Views drip", "0.03"),
    ("YouTube Views", "Views retention", "1.50"),
    ("Website Traffic", "Visitors", "0.30"),
)


@pytest.fixture(scope="module")
def shop(fast_panel: Panel) -> Panel:
    for category, name, rate in CATALOG:
        fast_panel.service(name=name, category=category, rate=rate)
    return fast_panel


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_landing_page_reads_in_both_directions_on_a_phone(
    browser: Browser, shop: Panel, lang: str
) -> None:
    t = Translator(lang)
    for phone in (False, True):
        page = new_context(browser, shop, lang=lang, phone=phone).new_page()
        errors = watch_errors(page)
        page.goto("/")
        expect(page.locator("html")).to_have_attribute("dir", "rtl" if lang == "ar" else "ltr")
        cards = page.locator(".platform-card")
        expect(cards.filter(has_text="Instagram")).to_contain_text(
            t.ngettext("{n} service", "{n} services", 2))
        expect(cards.filter(has_text="TikTok")).to_be_visible()
        expect(page.locator("a.button[href='/signup']").first).to_be_visible()
        # The icons are drawn (the sprite's tile has a size) and hidden from screen readers.
        icon = cards.first.locator("svg.pf-icon")
        assert icon.get_attribute("aria-hidden") == "true"
        assert icon.bounding_box()["width"] >= 32  # type: ignore[index]
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"{lang} {'phone' if phone else 'desktop'}: {overflow}px"
        axe.check(page)
        assert errors == []
        page.context.close()


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_typing_in_the_search_filters_and_announces_the_count(
    browser: Browser, shop: Panel, lang: str
) -> None:
    t = Translator(lang)
    page = new_context(browser, shop, lang=lang).new_page()
    errors = watch_errors(page)
    log_in(page, make_person(shop, balance="5"))
    page.goto("/order/new")
    search = page.get_by_label(t("Search services"))
    search.fill("views")
    options = page.locator("#service option")
    expect(options).to_have_count(4)  # three TikTok, one YouTube, across categories
    expect(page.locator("#order-search-count")).to_have_text(
        t.ngettext("{n} service", "{n} services", 4))
    assert page.locator("#order-search-count").get_attribute("aria-live") == "polite"
    search.fill("views slow")
    expect(options).to_have_count(1)
    expect(page.locator("#order-search-count")).to_have_text(
        t.ngettext("{n} service", "{n} services", 1))
    expect(page.locator("#category")).to_have_value("TikTok Views")
    expect(page.locator("#service-category")).to_have_text("TikTok Views")
    expect(page.locator(".service-platform use")).to_have_attribute(
        "href", re.compile(r"#tiktok$"))
    axe.check(page)

    page.goto("/services")
    page.get_by_label(t("Search services")).fill("followers")
    expect(page.locator("tr[data-search]:visible")).to_have_count(2)
    expect(page.locator("#service-count")).to_have_text(
        t.ngettext("{n} service", "{n} services", 2))
    axe.check(page)
    assert errors == []
    page.context.close()
