"""Tickets in a real browser (Chromium), in English and Arabic: a ticket from a customer to
staff and back (with a canned reply inserted into the reply box), and a refill ticket that
staff act on with one button."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from opensmm.accounts.models import User
from opensmm.i18n.translate import Translator
from opensmm.mail.models import MailOutbox
from opensmm.orders import service as orders
from opensmm.refills.models import Refill
from opensmm.tickets.models import Ticket
from tests.support.panel import Panel
from tests.web.support import Person, make_person
from tests.web.test_browser import browser, log_in, new_context, watch_errors

pytestmark = pytest.mark.browser
__all__ = ["browser"]  # the module's Chromium, shared with test_browser's fixture


def open_ticket(page: Page, t: Translator, *, subject: str, title: str, message: str,
                order_ids: str = "") -> int:
    page.goto("/dashboard")
    page.click(f"nav a[href='/tickets']:text-is('{t('Tickets')}')")
    expect(page).to_have_url(re.compile(r"/tickets$"))
    page.click("a[href='/tickets/new']")
    page.select_option("select[name=subject]", subject)
    if order_ids:
        page.fill("input[name=order_ids]", order_ids)
    page.fill("input[name=title]", title)
    page.fill("textarea[name=message]", message)
    page.click("form[action='/tickets/new'] button[type=submit]")
    expect(page).to_have_url(re.compile(r"/tickets/\d+$"))
    expect(page.locator(".flash-ok")).to_contain_text(t("Ticket {id} opened. We will answer here.",
                                                        id=page.url.rsplit("/", 1)[1]))
    return int(page.url.rsplit("/", 1)[1])


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_a_ticket_from_a_customer_to_staff_and_back(browser: Browser, fast_panel: Panel,
                                                    lang: str) -> None:
    panel = fast_panel
    t = Translator(lang)
    customer, agent = make_person(panel), make_person(panel, staff=True)
    shop = new_context(browser, panel, lang=lang).new_page()
    shop_errors = watch_errors(shop)
    log_in(shop, customer)
    expect(shop.locator("html")).to_have_attribute("dir", "rtl" if lang == "ar" else "ltr")
    ticket_id = open_ticket(shop, t, subject="payment", title="<b>Payment</b> missing",
                            message="I paid yesterday.\n<script>alert(1)</script>")
    expect(shop.locator(".message-body").first).to_have_text(
        "I paid yesterday.\n<script>alert(1)</script>")
    expect(shop.locator("#ticket-status")).to_have_text(t("Open"))

    desk = new_context(browser, panel, lang=lang).new_page()
    desk_errors = watch_errors(desk)
    log_in(desk, agent)
    desk.goto("/admin/canned")
    desk.fill("input[name=title]", f"Received {lang}")
    desk.fill("textarea[name=body]", "We received your payment.\nThank you!")
    desk.click("form[action='/admin/canned'] button[type=submit]")
    desk.goto("/admin/tickets")
    row = desk.locator(f"tr[data-ticket='{ticket_id}']")
    expect(row).to_have_class("unread")
    expect(row.locator("td").nth(3)).to_contain_text("<b>Payment</b> missing")
    row.locator(f"a[href='/admin/tickets/{ticket_id}']").click()
    desk.select_option("select[name=canned]", label=f"Received {lang}")
    desk.click("form[method=get] button[type=submit]")
    expect(desk.locator("textarea[name=message]")).to_have_value(
        "We received your payment.\nThank you!")
    desk.select_option("select[name=assignee]", str(agent.id))
    desk.click(f"form[action='/admin/tickets/{ticket_id}/assign'] button")
    expect(desk.locator(".flash-ok")).to_have_text(t("Ticket {id} assigned.", id=ticket_id))
    desk.select_option("select[name=canned]", label=f"Received {lang}")
    desk.click("form[method=get] button[type=submit]")
    desk.click(f"form[action='/admin/tickets/{ticket_id}/reply'] button[type=submit]")
    expect(desk.locator(".flash-ok")).to_have_text(t("Reply sent."))
    expect(desk.locator("#ticket-status")).to_have_text(t("Answered"))
    with panel.db.read() as session:  # the customer is mailed the reply, in the outbox
        mails = session.scalars(select(MailOutbox).where(
            MailOutbox.recipient == f"{customer.name}@example.test")).all()
    assert [m.template for m in mails] == ["ticket_reply"]
    assert "We received your payment." in mails[0].text_body
    assert f"/tickets/{ticket_id}" in mails[0].text_body

    shop.goto("/tickets")
    expect(shop.locator(f"tr[data-ticket='{ticket_id}'] .unread")).to_have_text(t("New reply"))
    shop.click(f"a[href='/tickets/{ticket_id}']")
    expect(shop.locator(".message.from-staff .message-body")).to_have_text(
        "We received your payment.\nThank you!")
    shop.fill("textarea[name=message]", "Great, thanks")
    shop.click(f"form[action='/tickets/{ticket_id}/reply'] button[type=submit]")
    expect(shop.locator(".flash-ok")).to_have_text(t("Your reply was sent."))
    expect(shop.locator("#ticket-status")).to_have_text(t("Customer reply"))

    desk.goto("/admin/tickets?assignee=me&status=customer-reply")
    expect(desk.locator(f"tr[data-ticket='{ticket_id}']")).to_have_class("unread")
    desk.click(f"a[href='/admin/tickets/{ticket_id}']")
    desk.click(f"form[action='/admin/tickets/{ticket_id}/close'] button")
    expect(desk.locator("#ticket-status")).to_have_text(t("Closed"))
    shop.reload()
    expect(shop.locator("textarea[name=message]")).to_have_count(0)
    assert shop_errors == [] and desk_errors == []


def place_completed(panel: Panel, person: Person, service_id: int) -> int:
    with panel.write() as session:
        user = session.get(User, person.id)
        assert user is not None
        order_id = orders.place_order(session, user, {"service": service_id, "quantity": 100,
                                                      "link": "https://example.test/r"}).id
    panel.set_order(order_id, status="Completed")
    return order_id


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_a_refill_ticket_acted_on_by_staff(browser: Browser, fast_panel: Panel,
                                           lang: str) -> None:
    panel = fast_panel
    t = Translator(lang)
    customer, agent = make_person(panel, balance="5"), make_person(panel, staff=True)
    service = panel.service(name="Manual Likes", refill=True, rate="1")
    order_id = place_completed(panel, customer, service)
    shop = new_context(browser, panel, lang=lang).new_page()
    shop_errors = watch_errors(shop)
    log_in(shop, customer)
    # Someone else's order is refused, clearly, in the visitor's language.
    shop.goto("/tickets/new")
    shop.select_option("select[name=subject]", "refill")
    shop.fill("input[name=order_ids]", f"{order_id}, 2147483647")
    shop.fill("input[name=title]", "Dropped")
    shop.fill("textarea[name=message]", "Please refill")
    shop.click("form[action='/tickets/new'] button[type=submit]")
    expect(shop.locator(".flash-error")).to_have_text(
        t("These are not your orders: {ids}", ids="2147483647"))
    expect(shop.locator("input[name=title]")).to_have_value("Dropped")
    ticket_id = open_ticket(shop, t, subject="refill", title="Dropped",
                            message="Please refill", order_ids=str(order_id))

    desk = new_context(browser, panel, lang=lang).new_page()
    desk_errors = watch_errors(desk)
    log_in(desk, agent)
    desk.goto("/admin/tickets?subject=refill")
    desk.click(f"a[href='/admin/tickets/{ticket_id}']")
    button = desk.locator(
        f"form[action='/admin/tickets/{ticket_id}/orders/{order_id}/refill'] button")
    expect(button).to_have_text(t("Refill"))
    button.click()
    with panel.db.read() as session:
        refill = session.scalar(select(Refill).where(Refill.order_id == order_id))
        assert refill is not None
        ticket = session.get(Ticket, ticket_id)
        assert ticket is not None and ticket.customer_unread
    done = t("Refill {refill} requested for order {order}.", refill=refill.id, order=order_id)
    expect(desk.locator(".flash-ok")).to_have_text(done)
    # The button is gone: the order now has a refill in progress.
    expect(button).to_have_count(0)
    expect(desk.locator(f"tr[data-order='{order_id}']")).to_contain_text(
        t("A refill for this order is already in progress"))

    shop.goto("/tickets")
    expect(shop.locator(f"tr[data-ticket='{ticket_id}'] .unread")).to_be_visible()
    shop.click(f"a[href='/tickets/{ticket_id}']")
    expect(shop.locator(".message.action .message-body")).to_have_text(done)
    shop.goto("/refills")
    expect(shop.locator(f"tr[data-refill='{refill.id}']")).to_be_visible()
    # The refused form answered 400, as it should; nothing else failed.
    assert [e for e in shop_errors if "status of 400" not in e] == []
    assert len(shop_errors) == 1
    assert desk_errors == []
