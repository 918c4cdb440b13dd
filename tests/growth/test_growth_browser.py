"""A referral in a real browser (Chromium), in English and Arabic: the referrer copies their
link from the Affiliates page, a newcomer opens it and signs up, pays a deposit, and the
referrer sees the sign-up, the paid deposit and the commission on their Affiliates page."""

from __future__ import annotations

import re
import uuid
from decimal import Decimal

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import select

from opensmm.accounts.models import User
from opensmm.i18n import formatting
from opensmm.panel_settings import service as panel_settings
from tests.growth.helpers import ACTOR, approve, consistent, manual_method, start
from tests.support.panel import Panel
from tests.web.support import make_person
from tests.web.test_browser import browser, log_in, new_context, watch_errors

pytestmark = pytest.mark.browser

__all__ = ["browser"]


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_a_referred_customer_signs_up_through_the_link(
    browser: Browser, fast_panel: Panel, lang: str
) -> None:
    panel = fast_panel
    with panel.write() as session:
        panel_settings.set_value(session, "affiliate_percent", "10", ACTOR)
    referrer = make_person(panel)
    name = f"friend{uuid.uuid4().hex[:6]}"

    office = new_context(browser, panel, lang=lang)
    mine = office.new_page()
    mine_errors = watch_errors(mine)
    log_in(mine, referrer)
    mine.goto("/affiliates")
    expect(mine.locator("html")).to_have_attribute("lang", lang)
    link = mine.locator("#referral-link").inner_text().strip()
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/r/[A-Za-z0-9_-]{6,16}", link), link
    zero = formatting.number(0, lang)
    expect(mine.locator("#aff-signups")).to_have_text(zero)

    newcomer = new_context(browser, panel, lang=lang)
    page = newcomer.new_page()
    errors = watch_errors(page)
    page.goto(link)
    expect(page).to_have_url(re.compile(r"/signup$"))
    page.fill("input[name=name]", name)
    page.fill("input[name=email]", f"{name}@example.test")
    page.fill("input[name=password]", "a good password")
    page.fill("input[name=password2]", "a good password")
    page.click("form[action='/signup'] button[type=submit]")
    expect(page).to_have_url(re.compile(r"/dashboard$"))

    mine.reload()
    expect(mine.locator("#aff-visits")).to_have_text(formatting.number(1, lang))
    expect(mine.locator("#aff-signups")).to_have_text(formatting.number(1, lang))
    expect(mine.locator("#referrals")).to_contain_text(name[:3] + "…")

    # The newcomer pays a deposit of 40 (approved by staff): 10% of it is the referrer's.
    with panel.db.read() as session:
        friend = session.scalar(select(User.id).where(User.name == name))
    assert friend is not None
    started = start(panel.db, friend, manual_method(panel.db), "40")
    approve(panel.db, started.payment_id)
    mine.reload()
    expect(mine.locator("#aff-deposits")).to_have_text(formatting.number(1, lang))
    expect(mine.locator("#aff-earned")).to_have_text(
        formatting.money(Decimal(4), panel_currency(), lang))

    # The referrer moves the commission to their panel balance.
    mine.fill("#transfer-form input[name=amount]", "4")
    mine.click("#transfer-form button[type=submit]")
    expect(mine.locator(".flash-ok")).to_be_visible()
    expect(mine.locator("#aff-balance")).to_have_text(
        formatting.money(Decimal(0), panel_currency(), lang))
    expect(mine.locator(".balance")).to_have_text(
        formatting.money(Decimal(4), panel_currency(), lang))
    assert errors == [] and mine_errors == []
    office.close()
    newcomer.close()
    consistent(panel.db)


def panel_currency() -> str:
    return "USD"
