"""Scorecards (opensmm.scorecards), on both databases: the figures are exact on crafted
orders, providers rank by them, stuck orders alert staff once per stall, and the average
time reads as people write it in English and Arabic (plural forms included)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select, update

from opensmm.accounts import service as accounts
from opensmm.audit.actor import Actor
from opensmm.db import Database, utcnow
from opensmm.fulfillment.states import HELD
from opensmm.i18n.translate import Translator
from opensmm.mail.models import MailOutbox
from opensmm.notifications import scan
from opensmm.notifications.models import Notice
from opensmm.orders import statuses as st
from opensmm.orders.models import Order
from opensmm.panel_settings import service as panel_settings
from opensmm.refills import statuses as rs
from opensmm.refills.models import Refill
from opensmm.scorecards import service as scorecards
from opensmm.scorecards.models import ProviderScore, ServiceScore
from tests.fulfillment.helpers import customer, place, provider, service

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def craft(db: Database, order_id: int, **values: Any) -> None:
    with db.write() as session:
        session.execute(update(Order).where(Order.id == order_id).values(**values))


def ended(db: Database, who: Any, service_id: int, provider_id: int | None, status: str,
          placed: datetime, took: timedelta, units: int = 1000, refilled: bool = False,
          auto_refilled: bool = False) -> int:
    order_id = place(db, who, service_id, quantity=units)
    craft(db, order_id, status=status, created_at=placed, finished_at=placed + took,
          updated_at=placed + took, units=units, provider_id=provider_id,
          remains=10 if status == st.PARTIAL else 0)
    with db.write() as session:
        if refilled:
            session.add(Refill(order_id=order_id, user_id=who.id, status=rs.COMPLETED))
        if auto_refilled:
            session.add(Refill(order_id=order_id, user_id=who.id, status=rs.COMPLETED,
                               automatic=True))
    return order_id


def scores(db: Database) -> tuple[dict[int, ServiceScore], dict[int, ProviderScore]]:
    with db.read() as session:
        return ({s.service_id: s for s in session.scalars(select(ServiceScore))},
                {p.provider_id: p for p in session.scalars(select(ProviderScore))})


def test_figures_are_exact_and_providers_rank_by_them(db: Database) -> None:
    now = utcnow()
    who = customer(db, balance="1000")
    p1, p2, p3 = (provider(db, "http://127.0.0.1:9/api/v2") for _ in range(3))
    s1, s2, idle = service(db), service(db), service(db)
    # s1: twelve Completed orders at p1; the i-th took (i+1)×10 minutes, for 1000 units
    # (even i) or 500 (odd i: twice as long per 1000). The last ten finished are i = 2..11.
    for i in range(12):
        ended(db, who, s1, p1, st.COMPLETED, now - 10 * DAY + i * HOUR,
              (i + 1) * timedelta(minutes=10), units=1000 if i % 2 == 0 else 500,
              refilled=i == 0, auto_refilled=i in (0, 1))  # auto-refills are not counted
    ended(db, who, s1, p1, st.PARTIAL, now - 3 * DAY, HOUR, refilled=True)
    ended(db, who, s1, p1, st.PARTIAL, now - 3 * DAY, HOUR)
    ended(db, who, s1, p2, st.CANCELED, now - 3 * DAY, HOUR)
    ended(db, who, s1, p1, st.PARTIAL, now - 40 * DAY, HOUR)  # before the 30-day window
    stuck = place(db, who, s1)
    craft(db, stuck, status=st.IN_PROGRESS, provider_id=p1, updated_at=now - 25 * HOUR)
    moving = place(db, who, s1)
    craft(db, moving, status=st.IN_PROGRESS, provider_id=p1, updated_at=now - 23 * HOUR)
    held = place(db, who, s1)  # held orders have their own alert
    craft(db, held, provider_id=p1, send_state=HELD, updated_at=now - 50 * HOUR)
    # s2: two Completed at p2, 90 minutes for 3000 units (30 min per 1000).
    for _ in range(2):
        ended(db, who, s2, p2, st.COMPLETED, now - 2 * DAY, timedelta(minutes=90), units=3000)

    # A package counts one unit whatever it holds: its average is the time per order.
    package = service(db, type="Package")
    ended(db, who, package, None, st.COMPLETED, now - DAY, timedelta(minutes=45), units=1)

    assert scorecards.refresh(db, now) >= 7
    services, providers = scores(db)
    one, two = services[s1], services[s2]
    # (1800 + 4800 + 3000 + 7200 + 4200 + 9600 + 5400 + 12000 + 6600 + 14400) / 10
    assert (one.average_seconds, one.average_of) == (6900, 10)
    assert (one.finished, one.partial, one.canceled, one.refilled, one.stuck) == (15, 2, 1, 2, 1)
    assert (one.partial_rate, one.cancel_rate, one.refill_rate) == (
        Decimal("13.3"), Decimal("6.7"), Decimal("14.3"))
    assert (two.average_seconds, two.average_of, two.finished, two.stuck) == (1800, 2, 2, 0)
    assert (services[idle].average_seconds, services[idle].finished) == (None, 0)
    assert services[idle].partial_rate is None
    first, second = providers[p1], providers[p2]
    assert (first.finished, first.partial, first.canceled, first.refilled, first.stuck) == (
        14, 2, 0, 2, 1)
    assert (second.finished, second.partial, second.canceled, second.stuck) == (3, 0, 1, 0)
    assert second.cancel_rate == Decimal("33.3")
    assert providers[p3].finished == 0

    with db.read() as session:
        assert scorecards.average_times(session) == {s1: 6900, s2: 1800, package: 2700}
        ranked = [row.provider.id for row in scorecards.provider_ranking(session)]
    # No stuck orders first, then by the share that went wrong; without figures after them.
    assert ranked.index(p2) < ranked.index(p3) < ranked.index(p1)

    # A second refresh (another worker) rewrites the same rows.
    craft(db, stuck, updated_at=now)
    scorecards.refresh(db, now)
    services, providers = scores(db)
    assert (services[s1].stuck, providers[p1].stuck, services[s1].average_seconds) == (0, 0, 6900)


def staff_member(db: Database) -> str:
    name = f"s{uuid.uuid4().hex[:8]}"
    with db.write() as session:
        accounts.create_user(session, name, email=f"{name}@example.test", is_admin=True)
    return f"{name}@example.test"


def run_scan(db: Database, now: datetime) -> scan.Scanned:
    return scan.run(db, base_url="https://panel.test", currency="USD", telegram=False, now=now)


def test_stuck_orders_alert_staff_once_per_stall(db: Database) -> None:
    now = utcnow()
    address = staff_member(db)
    who = customer(db)
    p1 = provider(db, "http://127.0.0.1:9/api/v2")
    s1 = service(db)
    with db.write() as session:
        panel_settings.set_value(session, "stuck_hours", "2", Actor.cli())
    a, b, fresh = (place(db, who, s1) for _ in range(3))
    for order_id in (a, b):
        craft(db, order_id, status=st.IN_PROGRESS, provider_id=p1, updated_at=now - 3 * HOUR)
    craft(db, fresh, status=st.IN_PROGRESS, provider_id=p1, updated_at=now - HOUR)
    # Stalled before the scan's two-day lookback: counted by the scorecards, not told.
    old = place(db, who, s1)
    craft(db, old, status=st.IN_PROGRESS, provider_id=p1, updated_at=now - 3 * DAY)

    first = run_scan(db, now)
    assert first.kinds["stuck"] == 1  # one alert for the provider's two orders
    with db.read() as session:
        keys = set(session.scalars(select(Notice.key).where(Notice.key.like("stuck:order:%"))))
        mails = list(session.scalars(select(MailOutbox).where(MailOutbox.recipient == address,
                                                              MailOutbox.text_body.like("%2 h%"))))
    assert {key.split(":")[2] for key in keys} == {str(a), str(b)}  # not fresh nor old
    assert len(mails) == 1 and f"{a}, {b}" in mails[0].text_body
    assert run_scan(db, now + HOUR).kinds.get("stuck", 0) == 0  # told once

    # a moved, then stalled again, and fresh stalled since: one new alert names both,
    # not b (the same stall, told already).
    craft(db, a, updated_at=now)
    again = run_scan(db, now + 3 * HOUR)
    assert again.kinds["stuck"] == 1
    with db.read() as session:
        last = session.scalars(select(MailOutbox).where(MailOutbox.recipient == address)
                               .order_by(MailOutbox.id.desc())).first()
    assert last is not None and f": {a}, {fresh}\n" in last.text_body


@pytest.mark.parametrize(("seconds", "english", "arabic"), [
    (20, "less than a minute", "أقل من دقيقة"),
    (60, "1 minute", "دقيقة واحدة"),
    (6900, "1 hour 55 minutes", "ساعة واحدة و55 دقيقة"),
    (2 * 3600 + 15 * 60, "2 hours 15 minutes", "ساعتان و15 دقيقة"),
    (3 * 3600 + 3 * 60, "3 hours 3 minutes", "3 ساعات و3 دقائق"),
    (86400 + 3600 + 59, "1 day 1 hour", "يوم واحد وساعة واحدة"),
    (11 * 86400, "11 days", "11 يومًا"),
])
def test_the_average_time_reads_as_people_write_it(seconds: int, english: str,
                                                   arabic: str) -> None:
    assert scorecards.human_duration(Translator("en"), seconds) == english
    assert scorecards.human_duration(Translator("ar"), seconds) == arabic
