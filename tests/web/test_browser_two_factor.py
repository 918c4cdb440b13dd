"""Two-factor log-in in a real browser (Debian's Chromium through Playwright), in English
and in Arabic: a customer sets it up from the account page (the QR code drawn inline and
allowed by the Content-Security-Policy: no console error, no failed request; the code
computed here from the secret the page shows), keeps the recovery codes, logs out and logs
in with a recovery code; staff required to enrol are sent to the set-up first."""

from __future__ import annotations

import re
from pathlib import Path

import pyotp
import pytest
from playwright.sync_api import Browser, expect

from opensmm.audit.actor import Actor
from opensmm.panel_settings import service as panel_settings
from tests.support.panel import Panel
from tests.web.support import make_person
from tests.web.test_browser import browser, log_in, new_context, watch_errors

pytestmark = pytest.mark.browser
__all__ = ["browser"]  # the module's Chromium, shared with test_browser's fixture

WORDS = {
    "en": {"on": "On", "left": "9 are left", "required": "requires two-factor log-in"},
    "ar": {"on": "مفعّل", "left": "بقيت 9 رموز", "required": "تشترط هذه اللوحة التحقق بخطوتين"},
}


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_a_customer_sets_up_two_factor_and_logs_in_with_a_recovery_code(
    browser: Browser, fast_panel: Panel, lang: str, screenshots: Path
) -> None:
    customer = make_person(fast_panel, balance="1")
    context = new_context(browser, fast_panel, lang=lang)
    page = context.new_page()
    errors = watch_errors(page)
    log_in(page, customer)
    expect(page.locator("html")).to_have_attribute("lang", lang)

    # From the account page to the set-up.
    page.click(".sidebar a.side-user")  # the user's name, at the foot of the sidebar
    page.click("#two-factor-link")
    expect(page).to_have_url(re.compile(r"/account/2fa$"))
    page.click("#start-form button[type=submit]")
    qr = page.locator("#qr-code svg")
    expect(qr).to_be_visible()
    box = qr.bounding_box()
    assert box is not None and box["width"] >= 150 and box["height"] >= 150
    page.screenshot(path=str(screenshots / f"two-factor-setup-{lang}.png"))
    secret = page.locator("#totp-secret").inner_text().replace(" ", "")
    assert re.fullmatch(r"[A-Z2-7]{32}", secret)
    page.fill("#confirm-form input[name=code]", pyotp.TOTP(secret).now())
    page.click("#confirm-form button[type=submit]")
    codes = page.locator("#recovery-codes li").all_inner_texts()
    assert len(codes) == 10
    expect(page.locator("#two-factor-status")).to_have_text(WORDS[lang]["on"])

    # Shown once: the next visit lists none.
    page.goto("/account/2fa")
    expect(page.locator("#recovery-codes")).to_have_count(0)
    expect(page.locator("#two-factor-status")).to_have_text(WORDS[lang]["on"])

    # Log out, then in: the password, then a recovery code.
    page.click("form[action='/logout'] button[type=submit]")
    page.wait_for_load_state()
    log_in(page, customer)
    expect(page).to_have_url(re.compile(r"/login/code$"))
    page.goto("/dashboard")  # the pending log-in opens nothing
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.goto("/login/code")
    page.fill("#code-form input[name=code]", codes[0])
    page.click("#code-form button[type=submit]")
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    expect(page.locator(".flash-ok")).to_contain_text(WORDS[lang]["left"])

    assert errors == []  # the QR code drawn, nothing refused by the CSP, no script error

    # The same recovery code does not work twice (its 400 is the only console line).
    page.click("form[action='/logout'] button[type=submit]")
    page.wait_for_load_state()
    log_in(page, customer)
    page.fill("#code-form input[name=code]", codes[0])
    page.click("#code-form button[type=submit]")
    expect(page).to_have_url(re.compile(r"/login/code$"))
    expect(page.locator(".flash-error")).to_be_visible()
    assert all("status of 400" in error for error in errors), errors
    context.close()


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_staff_required_to_enrol_are_sent_to_the_set_up_first(
    browser: Browser, fast_panel: Panel, lang: str
) -> None:
    boss = make_person(fast_panel, staff=True)
    with fast_panel.write() as session:
        panel_settings.set_value(session, "staff_2fa_required", "on", Actor.cli())
    try:
        context = new_context(browser, fast_panel, lang=lang)
        page = context.new_page()
        errors = watch_errors(page)
        log_in(page, boss)
        expect(page).to_have_url(re.compile(r"/account/2fa$"))
        expect(page.locator(".flash-error").first).to_contain_text(WORDS[lang]["required"])
        page.goto("/admin/users")
        expect(page).to_have_url(re.compile(r"/account/2fa$"))
        page.click("#start-form button[type=submit]")
        secret = page.locator("#totp-secret").inner_text().replace(" ", "")
        page.fill("#confirm-form input[name=code]", pyotp.TOTP(secret).now())
        page.click("#confirm-form button[type=submit]")
        expect(page.locator("#recovery-codes li")).to_have_count(10)
        page.goto("/admin/users")
        expect(page).to_have_url(re.compile(r"/admin/users$"))
        assert errors == []
        context.close()
    finally:
        with fast_panel.write() as session:
            panel_settings.set_value(session, "staff_2fa_required", "off", Actor.cli())
