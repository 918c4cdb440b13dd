"""The Notifications section in a real browser (Debian's Chromium through Playwright), in
English and Arabic: a customer's choices and a refused threshold; a staff member's own
switch for staff alerts; the Telegram list on Staff → Emails."""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from sqlalchemy import update

from opensmm.accounts.models import User
from opensmm.db import utcnow
from opensmm.notifications import service as notifications
from opensmm.notifications.models import FAILED, TelegramMessage
from tests.support.panel import Panel
from tests.web.support import Person, make_person

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
ARABIC = re.compile(r"[\u0600-\u06ff]")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def open_page(browser: Browser, panel: Panel, lang: str) -> tuple[Page, list[str]]:
    context = browser.new_context(base_url=panel.url, locale="en-US")
    context.add_cookies([{"name": "opensmm_lang", "value": lang, "url": panel.url}])
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return page, errors


def person_in(panel: Panel, lang: str, *, staff: bool = False) -> Person:
    person = make_person(panel, balance="10", staff=staff)
    with panel.write() as session:
        session.execute(update(User).where(User.id == person.id).values(language=lang))
    return person


def log_in(page: Page, person: Person) -> None:
    page.goto("/login")
    page.fill("input[name=login]", person.name)
    page.fill("input[name=password]", person.password)
    page.click("form[action='/login'] button[type=submit]")
    expect(page).to_have_url(re.compile(r"/(dashboard|admin)$"))


def prefs_of(panel: Panel, user_id: int) -> notifications.Prefs:
    with panel.db.read() as session:
        return notifications.get(session, user_id)


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_a_customer_chooses_their_mails(browser: Browser, fast_panel: Panel, lang: str) -> None:
    panel = fast_panel
    person = person_in(panel, lang)
    page, errors = open_page(browser, panel, lang)
    log_in(page, person)
    page.goto("/account/password")
    section = page.locator("#notifications")
    expect(section).to_be_visible()
    expect(page.locator("html")).to_have_attribute("dir", "rtl" if lang == "ar" else "ltr")
    assert bool(ARABIC.search(section.inner_text())) == (lang == "ar")
    expect(page.locator("#notify-ticket-replies")).to_be_checked()
    expect(page.locator("#notify-payments")).to_be_checked()
    expect(page.locator("#notify-digest")).to_be_checked()
    expect(page.locator("#notify-staff-alerts")).to_have_count(0)
    # A threshold that is not an amount: a clear message, nothing saved.
    page.uncheck("#notify-payments")
    page.fill("#notify-low-balance", "ten dollars")
    page.click("#notify-save")
    expect(page.locator(".flash-error")).to_be_visible()
    assert bool(ARABIC.search(page.locator(".flash-error").inner_text())) == (lang == "ar")
    assert prefs_of(panel, person.id) == notifications.DEFAULTS
    page.uncheck("#notify-payments")
    page.fill("#notify-low-balance", "2.5")
    page.click("#notify-save")
    expect(page.locator(".flash-ok")).to_be_visible()
    expect(page.locator("#notify-payments")).not_to_be_checked()
    expect(page.locator("#notify-low-balance")).to_have_value("2.5")
    saved = prefs_of(panel, person.id)
    assert (saved.payments, saved.low_balance, saved.ticket_replies) == (
        False, Decimal("2.5"), True)
    assert errors == []
    page.context.close()


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_staff_switch_their_alerts_and_see_the_telegram_list(
    browser: Browser, fast_panel: Panel, lang: str
) -> None:
    panel = fast_panel
    agent = person_in(panel, lang, staff=True)
    with panel.write() as session:
        session.add(TelegramMessage(text=f"Order 7 is held ({lang})", status=FAILED,
                                    attempts=6, next_attempt_at=utcnow(),
                                    last_error="400 Bad Request: chat not found",
                                    created_at=utcnow()))
    page, errors = open_page(browser, panel, lang)
    log_in(page, agent)
    page.goto("/account/password")
    expect(page.locator("#notify-staff-alerts")).to_be_checked()
    page.uncheck("#notify-staff-alerts")
    page.click("#notify-save")
    expect(page.locator(".flash-ok")).to_be_visible()
    expect(page.locator("#notify-staff-alerts")).not_to_be_checked()
    assert prefs_of(panel, agent.id).staff_alerts is False
    page.goto("/admin/emails")
    expect(page.locator("#telegram")).to_be_visible()
    expect(page.locator("#no-telegram")).to_be_visible()
    row = page.locator("#telegram-messages tr", has_text=f"Order 7 is held ({lang})")
    expect(row).to_contain_text("chat not found")
    row.locator("button[type=submit]").click()
    expect(page.locator(".flash-ok")).to_be_visible()
    expect(page.locator("#telegram-messages tr", has_text=f"Order 7 is held ({lang})")
           .locator("button[type=submit]")).to_have_count(0)
    assert errors == []
    page.context.close()
