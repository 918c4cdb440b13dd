"""The Notifications section of the account page, against a running panel on both databases:
defaults, saving, staff's own switch, hostile input (a clear message, nothing changed, never
a 500) and CSRF."""

from __future__ import annotations

from decimal import Decimal

import pytest

from opensmm.notifications import service as notifications
from tests.support.panel import Panel
from tests.web.support import WebClient, make_person


def prefs_of(panel: Panel, user_id: int) -> notifications.Prefs:
    with panel.db.read() as session:
        return notifications.get(session, user_id)


def test_the_section_shows_the_defaults_and_saves_choices(panel: Panel, visitor: WebClient
                                                           ) -> None:
    customer = make_person(panel)
    visitor.login(customer)
    page = visitor.get("/account/password").text
    assert 'id="notifications"' in page
    assert 'id="notify-ticket-replies" checked' in page
    assert 'id="notify-payments" checked' in page
    assert 'id="notify-digest" checked' in page
    assert 'id="notify-staff-alerts"' not in page  # customers have no staff alerts
    answer = visitor.post("/account/notifications",
                          {"ticket_replies": "1", "low_balance": " 25.50 "})
    assert answer.headers["location"] == "/account/password#notifications"
    assert "Your notification settings are saved." in visitor.flash(answer)
    assert prefs_of(panel, customer.id) == notifications.Prefs(
        ticket_replies=True, payments=False, digest=False, low_balance=Decimal("25.5"),
        staff_alerts=True)
    page = visitor.get("/account/password").text
    assert 'value="25.5"' in page and 'id="notify-payments" checked' not in page
    assert visitor.get("/account/notifications").headers["location"].endswith(
        "#notifications")


def test_staff_turn_their_alerts_off_on_the_same_page(panel: Panel, visitor: WebClient) -> None:
    agent = make_person(panel, staff=True)
    visitor.login(agent)
    assert 'id="notify-staff-alerts" checked' in visitor.get("/account/password").text
    visitor.post("/account/notifications", {"ticket_replies": "1", "payments": "1"})
    assert prefs_of(panel, agent.id).staff_alerts is False
    assert 'id="notify-staff-alerts" checked' not in visitor.get("/account/password").text


@pytest.mark.parametrize("typed", ["abc", "-1", "0", "1e999", "NaN", "9" * 5000, "1.0000001",
                                   "5000000000", "<script>alert(1)</script>", "\x00x"])
def test_a_hostile_threshold_gets_a_clear_message_and_changes_nothing(
    panel: Panel, visitor: WebClient, typed: str
) -> None:
    customer = make_person(panel)
    visitor.login(customer)
    answer = visitor.post("/account/notifications", {"digest": "1", "low_balance": typed})
    assert answer.status_code in (400, 422, 200, 303), answer.status_code
    text = answer.text if answer.status_code != 303 else visitor.flash(answer)
    assert "low-balance amount" in text
    assert "<script>alert(1)" not in text
    assert prefs_of(panel, customer.id) == notifications.DEFAULTS


def test_odd_fields_and_huge_forms_never_500(panel: Panel, visitor: WebClient) -> None:
    customer = make_person(panel)
    visitor.login(customer)
    answer = visitor.post("/account/notifications", {
        "ticket_replies": "yes" * 1000, "payments": ["1", "0"], "staff_alerts": "1",
        "low_balance": "", "extra": "x" * 100_000,
    })
    assert answer.status_code < 500
    saved = prefs_of(panel, customer.id)
    assert saved.staff_alerts is True  # a customer cannot switch staff alerts
    assert saved.ticket_replies is False


def test_without_a_csrf_token_nothing_is_saved(panel: Panel, visitor: WebClient) -> None:
    customer = make_person(panel)
    visitor.login(customer)
    for data in ({"low_balance": "10"}, {"low_balance": "10", "csrf": "forged"}):
        answer = visitor.post("/account/notifications", data, csrf=False)
        assert answer.status_code in (400, 403, 303), answer.status_code
    assert prefs_of(panel, customer.id) == notifications.DEFAULTS


def test_anonymous_visitors_are_sent_to_log_in(panel: Panel, visitor: WebClient) -> None:
    answer = visitor.post("/account/notifications", {"low_balance": "10"})
    assert answer.status_code in (303, 403)
    if answer.status_code == 303:
        assert answer.headers["location"].startswith("/login")


def test_staff_retry_a_failed_telegram_message_once(panel: Panel, visitor: WebClient) -> None:
    from sqlalchemy import select

    from opensmm.audit.models import AuditEntry
    from opensmm.db import utcnow
    from opensmm.notifications.models import FAILED, QUEUED, TelegramMessage

    agent, customer = make_person(panel, staff=True), make_person(panel)
    with panel.write() as session:
        row = TelegramMessage(text="Order 1 is held", status=FAILED, attempts=6,
                              next_attempt_at=utcnow(), created_at=utcnow(),
                              last_error="400 Bad Request")
        session.add(row)
        session.flush()
        message_id = row.id
    visitor.login(customer)
    assert visitor.post(f"/admin/telegram/{message_id}/retry").status_code in (303, 403, 404)
    visitor.post("/logout")
    visitor.login(agent)
    answer = visitor.post(f"/admin/telegram/{message_id}/retry")
    assert "will be sent again" in visitor.flash(answer)
    again = visitor.post(f"/admin/telegram/{message_id}/retry")
    assert again.status_code < 500
    text = again.text if again.status_code != 303 else visitor.flash(again)
    assert "Only a failed Telegram message can be retried" in text
    assert visitor.post("/admin/telegram/999999999/retry").status_code in (303, 400, 404)
    with panel.db.read() as session:
        saved = session.get(TelegramMessage, message_id)
        assert saved is not None and (saved.status, saved.attempts) == (QUEUED, 0)
        audits = session.scalars(select(AuditEntry).where(
            AuditEntry.target == f"telegram:{message_id}")).all()
        assert len(audits) == 1
