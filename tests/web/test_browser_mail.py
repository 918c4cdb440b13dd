"""Mail journeys in a real browser (Debian's Chromium through Playwright), in English and
Arabic, against a running panel: a forgotten password reset by the mailed link, and an
email confirmed from the link before the customer may order. The mails are read from the
outbox (no SMTP here), as they would be sent."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from sqlalchemy import select, update

from opensmm.accounts.models import User
from opensmm.audit.actor import Actor
from opensmm.mail.models import MailOutbox
from opensmm.panel_settings import service as panel_settings
from tests.support.panel import Panel
from tests.web.support import Person, make_person

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
LINK = re.compile(r"https?://[^\s\"<]+?(/(?:password/reset|email/verify)\?token=[A-Za-z0-9_-]+)")
ARABIC = re.compile(r"[\u0600-\u06ff]")
NEW_PASSWORD = "the new secret phrase"


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
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    return page, errors


def person_in(panel: Panel, lang: str) -> Person:
    person = make_person(panel, balance="10")
    with panel.write() as session:  # the language they chose: their mails are in it
        session.execute(update(User).where(User.id == person.id).values(language=lang))
    return person


def last_mail(panel: Panel, person: Person, template: str) -> MailOutbox:
    with panel.db.read() as session:
        mail = session.scalars(
            select(MailOutbox).where(MailOutbox.recipient == f"{person.name}@example.test",
                                     MailOutbox.template == template)
            .order_by(MailOutbox.id.desc()).limit(1)
        ).one()
        session.expunge(mail)
        return mail


def link_of(mail: MailOutbox) -> str:
    match = LINK.search(mail.text_body)
    assert match, mail.text_body
    return match.group(1)


def check_language(page: Page, lang: str) -> None:
    html = page.locator("html")
    expect(html).to_have_attribute("lang", lang)
    expect(html).to_have_attribute("dir", "rtl" if lang == "ar" else "ltr")


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_a_customer_resets_a_forgotten_password_by_email(
    browser: Browser, fast_panel: Panel, lang: str
) -> None:
    panel = fast_panel
    person = person_in(panel, lang)
    page, errors = open_page(browser, panel, lang)
    page.goto("/login")
    check_language(page, lang)
    page.click("#forgot-link")
    expect(page).to_have_url(re.compile(r"/password/forgot$"))
    page.fill("input[name=login]", person.name)
    page.click("form[action='/password/forgot'] button[type=submit]")
    expect(page.locator("#reset-sent")).to_be_visible()
    mail = last_mail(panel, person, "password_reset")
    assert mail.language == lang
    assert bool(ARABIC.search(mail.subject)) == (lang == "ar")
    page.goto(link_of(mail))
    check_language(page, lang)
    page.fill("input[name=password]", NEW_PASSWORD)
    page.fill("input[name=password2]", NEW_PASSWORD)
    page.click("form[action='/password/reset'] button[type=submit]")
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.locator(".flash-ok")).to_be_visible()
    page.fill("input[name=login]", person.name)
    page.fill("input[name=password]", NEW_PASSWORD)
    page.click("form[action='/login'] button[type=submit]")
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    assert errors == []
    # The link was used: opened again, it is refused with a message (a 400 page, which
    # the console reports as such), not an error.
    answer = page.goto(link_of(mail))
    assert answer is not None and answer.status == 400
    check_language(page, lang)
    assert ARABIC.search(page.locator("main").inner_text()) if lang == "ar" else (
        "not valid" in page.locator("main").inner_text())
    page.context.close()


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_a_customer_confirms_the_email_before_ordering(
    browser: Browser, fast_panel: Panel, lang: str
) -> None:
    panel = fast_panel
    person = person_in(panel, lang)
    with panel.write() as session:
        panel_settings.set_value(session, "email_verification", "required", Actor.cli())
    try:
        page, errors = open_page(browser, panel, lang)
        page.goto("/login")
        page.fill("input[name=login]", person.name)
        page.fill("input[name=password]", person.password)
        page.click("form[action='/login'] button[type=submit]")
        expect(page).to_have_url(re.compile(r"/dashboard$"))
        check_language(page, lang)
        banner = page.locator(".verify-banner")
        expect(banner).to_be_visible()
        banner.locator("button[type=submit]").click()
        expect(page.locator(".flash-ok")).to_be_visible()
        mail = last_mail(panel, person, "email_verification")
        assert bool(ARABIC.search(mail.text_body)) == (lang == "ar")
        page.goto(link_of(mail))
        check_language(page, lang)
        page.click("form[action='/email/verify'] button[type=submit]")
        expect(page).to_have_url(re.compile(r"/dashboard$"))
        expect(page.locator(".flash-ok")).to_contain_text(f"{person.name}@example.test")
        expect(page.locator(".verify-banner")).to_have_count(0)
        assert errors == []
        page.context.close()
    finally:
        with panel.write() as session:
            panel_settings.set_value(session, "email_verification", "off", Actor.cli())
