"""The ticket, news and updates pages in Arabic carry no English of ours: every label,
status, subject, action message and audit line is translated (data such as names, titles
typed in English and links is not ours and is left out)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from opensmm.accounts.models import User
from opensmm.audit.models import AuditEntry
from opensmm.orders import service as orders
from tests.support.panel import Panel, running_panel
from tests.web.support import WebClient, make_person
from tests.web.test_i18n import LANGUAGE_NAMES, latin_words, visible_text


@pytest.fixture(scope="module")
def sqlite_panel(database_servers: dict) -> Iterator[Panel]:
    with running_panel(database_servers, "sqlite") as panel:
        yield panel


def test_no_english_on_the_arabic_ticket_and_news_pages(sqlite_panel: Panel) -> None:
    panel = sqlite_panel
    boss, customer = make_person(panel, staff=True), make_person(panel, balance="10")
    service = panel.service(name="Insta Followers HQ", category="Insta Growth", rate="1",
                            refill=True)
    with panel.write() as session:
        owner = session.get(User, customer.id)
        assert owner is not None
        done = orders.place_order(session, owner, {"service": service, "quantity": 100,
                                                   "link": "https://example.test/p"}).id
        waiting = orders.place_order(session, owner, {"service": service, "quantity": 100,
                                                      "link": "https://example.test/p"}).id
    panel.set_order(done, status="Completed")
    data = [boss.name, customer.name, f"{customer.name}@example.test", "Insta Followers HQ",
            "https://example.test/p", "example.test", "test"]
    shop = WebClient(panel.url, **{"Accept-Language": "ar"})
    staff = WebClient(panel.url, **{"Accept-Language": "ar"})
    shown: dict[str, str] = {}
    try:
        shop.login(customer)
        staff.login(boss)
        opened = shop.post("/tickets/new", {"subject": "refill", "title": "عنوان",
                                            "message": "نص الرسالة",
                                            "order_ids": f"{done}, {waiting}"})
        assert opened.status_code == 303
        ticket = opened.headers["location"]
        ticket_id = int(ticket.rsplit("/", 1)[1])
        shown["opened flash"] = shop.flash(opened)
        shown["refused ticket"] = shop.post("/tickets/new", {"subject": "", "title": "",
                                                             "message": ""}).text
        shown["refill flash"] = staff.flash(
            staff.post(f"/admin/tickets/{ticket_id}/orders/{done}/refill"))
        shown["refused refill flash"] = staff.flash(
            staff.post(f"/admin/tickets/{ticket_id}/orders/{waiting}/refill"))
        staff.post(f"/admin/tickets/{ticket_id}/reply", {"message": "تم"})
        staff.post(f"/admin/tickets/{ticket_id}/assign", {"assignee": str(boss.id)})
        staff.post("/admin/canned", {"title": "شكرًا", "body": "شكرًا لانتظارك"})
        staff.post("/admin/news", {"title_en": "Hello", "body_en": "World",
                                   "title_ar": "مرحبًا", "body_ar": "أهلًا بكم"})
        panel.service(name="Insta Followers HQ", category="Insta Growth", rate="2",
                      enabled=True)
        for path in ("/tickets", "/tickets/new", ticket, "/news", "/updates", "/dashboard"):
            page = shop.get(path)
            assert page.status_code == 200, path
            shown[path] = page.text
        for path in ("/admin/tickets", f"/admin/tickets/{ticket_id}", "/admin/canned",
                     "/admin/news", "/admin/audit"):
            page = staff.get(path)
            assert page.status_code == 200, path
            shown[path] = page.text
    finally:
        shop.close()
        staff.close()
    with panel.db.read() as session:
        for action, target in session.execute(select(AuditEntry.action, AuditEntry.target)):
            data.extend((action, target))
    data += ["Hello", "World"]  # the English text of the announcement, shown to staff
    data += LANGUAGE_NAMES  # a form per language, each named in its own language
    assert all('<html lang="ar" dir="rtl">' in page for page in shown.values())
    english = {where: words for where, page in shown.items()
               if (words := latin_words(visible_text(page), data))}
    assert not english, repr({k: sorted(v) for k, v in english.items()})
    assert "خدمة جديدة" in shown["/updates"]
    assert "مرحبًا" in shown["/dashboard"]
