"""Notifications on SQLite and PostgreSQL: each trigger is told once (one notice, one mail per
recipient) however often and by however many workers the scan runs; the choices are
respected; the digest groups a day's Partial and Canceled orders; mails in the recipient's
language."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select, update

from opensmm.accounts import service as accounts
from opensmm.accounts.models import User
from opensmm.audit.actor import Actor
from opensmm.catalog import service as catalog
from opensmm.db import Database, utcnow
from opensmm.errors import DomainError
from opensmm.fulfillment.states import HELD
from opensmm.ledger import service as ledger
from opensmm.mail.models import MailOutbox
from opensmm.notifications import scan
from opensmm.notifications import service as prefs
from opensmm.notifications.models import Notice, TelegramMessage
from opensmm.orders import service as orders
from opensmm.orders import statuses as st
from opensmm.orders.models import Order
from opensmm.payments.models import Payment, PaymentMethod
from opensmm.providers.models import Provider
from opensmm.refills.models import Refill
from opensmm.tickets import service as tickets
from opensmm.tickets import statuses as ts

BASE = "https://panel.test"


def make_user(db: Database, *, staff: bool = False, balance: str = "0", lang: str = "",
              email: bool = True) -> User:
    name = f"{'s' if staff else 'c'}{uuid.uuid4().hex[:8]}"
    with db.write() as session:
        user = accounts.create_user(session, name, email=f"{name}@example.test" if email
                                    else None, is_admin=staff)
        if lang:
            user.language = lang
        if Decimal(balance):
            ledger.add_funds(session, user.id, Decimal(balance), memo="test", actor="test")
        session.flush()
        session.expunge(user)
        return user


def choose(db: Database, user: User, **changes: object) -> None:
    with db.write() as session:
        row = session.get(User, user.id)
        assert row is not None
        current = prefs.get(session, user.id)
        values = {**current.__dict__, **changes}
        prefs.save(session, row, prefs.Prefs(**values))  # type: ignore[arg-type]


def run(db: Database, now: datetime | None = None, telegram: bool = False) -> scan.Scanned:
    return scan.run(db, base_url=BASE, currency="USD", telegram=telegram, now=now)


def mails_to(db: Database, user: User) -> list[MailOutbox]:
    with db.read() as session:
        return list(session.scalars(select(MailOutbox).where(
            MailOutbox.recipient == user.email).order_by(MailOutbox.id)))


def notices(db: Database, prefix: str) -> list[str]:
    with db.read() as session:
        return list(session.scalars(select(Notice.key).where(Notice.key.like(f"{prefix}%"))))


def place(db: Database, user: User, service_id: int) -> int:
    with db.write() as session:
        customer = session.get(User, user.id)
        assert customer is not None
        return orders.place_order(session, customer, {"service": service_id,
                                                     "link": "https://x.test/a",
                                                     "quantity": 100}).id


def service_id(db: Database) -> int:
    with db.write() as session:
        return catalog.add_service(session, name="Followers", category="Instagram",
                                   rate=Decimal("1"), min_quantity=10,
                                   max_quantity=10_000).id


def payment(db: Database, user: User, *, gateway: str = "manual", state: str = "pending",
            paid: str = "0", needs_review: bool = False) -> int:
    with db.write() as session:
        method = session.scalar(select(PaymentMethod).where(PaymentMethod.name == gateway))
        if method is None:
            method = PaymentMethod(name=gateway, gateway=gateway, settings={}, instructions={})
            session.add(method)
            session.flush()
        row = Payment(token=uuid.uuid4().hex, user_id=user.id, method_id=method.id,
                      gateway=gateway, state=state, amount=Decimal("10"), currency="USD",
                      paid=Decimal(paid), paid_target=Decimal(paid), needs_review=needs_review,
                      settled_at=utcnow() if state == "paid" else None)
        session.add(row)
        session.flush()
        return row.id


def test_a_new_ticket_is_told_once_to_each_staff_member_who_wants_it(db: Database) -> None:
    customer = make_user(db)
    alice, bob, carol = (make_user(db, staff=True) for _ in range(3))
    choose(db, carol, staff_alerts=False)
    with db.write() as session:
        me = session.get(User, customer.id)
        assert me is not None
        ticket_id = tickets.open_ticket(session, me, subject=ts.OTHER, title="Where is it?",
                                        message="Hi", order_ids="").id
    first = run(db)
    second = run(db)
    assert first.kinds["ticket"] == 1 and second.notices == 0
    assert notices(db, "ticket:") == [f"ticket:{ticket_id}:new"]
    for member in (alice, bob):
        [mail] = mails_to(db, member)
        assert mail.template == "notice"
        assert f"/admin/tickets/{ticket_id}" in mail.text_body and "Where is it?" in mail.subject
        assert "/account/password#notifications" in mail.text_body
    assert mails_to(db, carol) == []
    assert mails_to(db, customer) == []


def test_held_orders_refills_providers_and_waiting_payments_alert_staff_once(
    db: Database,
) -> None:
    agent, customer = make_user(db, staff=True), make_user(db, balance="100")
    order_id = place(db, customer, service_id(db))
    waiting = payment(db, customer)
    review = payment(db, customer, gateway="paypal", state="paid", paid="10",
                     needs_review=True)
    with db.write() as session:
        session.execute(update(Order).where(Order.id == order_id).values(
            send_state=HELD, held_reason="in doubt"))
        refill = Refill(order_id=order_id, user_id=customer.id, send_state=HELD,
                        held_reason="refused")
        provider = Provider(name=f"p{uuid.uuid4().hex[:6]}", url="http://127.0.0.1:9/api",
                            api_key="k", alert="not enough funds", alert_at=utcnow())
        session.add_all([refill, provider])
        session.flush()
        refill_id, provider_id = refill.id, provider.id
    run(db)
    run(db)
    keys = set(notices(db, ""))
    assert {f"held:order:{order_id}", f"held:refill:{refill_id}",
            f"payment:{waiting}:waiting", f"payment:{review}:waiting"} <= keys
    assert len([k for k in keys if k.startswith(f"provider:{provider_id}:")]) == 1
    subjects = sorted(m.subject for m in mails_to(db, agent))
    assert len(subjects) == 5
    assert any("needs attention" in s for s in subjects)
    # A new alert of the same provider, later, is a new notice.
    with db.write() as session:
        session.execute(update(Provider).where(Provider.id == provider_id).values(
            alert="down", alert_at=utcnow() + timedelta(seconds=5)))
    run(db)
    assert len([k for k in notices(db, f"provider:{provider_id}:")]) == 2


def test_two_workers_scanning_at_once_tell_each_thing_once(db: Database) -> None:
    agents = [make_user(db, staff=True) for _ in range(2)]
    customer = make_user(db, balance="100")
    sid = service_id(db)
    held = [place(db, customer, sid) for _ in range(5)]
    with db.write() as session:
        session.execute(update(Order).where(Order.id.in_(held)).values(send_state=HELD))
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait()
            run(db, telegram=True)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sorted(notices(db, "held:order:")) == sorted(f"held:order:{i}" for i in held)
    for agent in agents:
        assert len(mails_to(db, agent)) == 5
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(TelegramMessage)) == 5


def test_credited_payments_respect_the_customers_choice(db: Database) -> None:
    yes, no = make_user(db, lang="ar"), make_user(db)
    choose(db, no, payments=False)
    paid_yes = payment(db, yes, gateway="paypal", state="paid", paid="10")
    payment(db, no, gateway="paypal", state="paid", paid="10")
    run(db)
    run(db)
    [mail] = mails_to(db, yes)
    assert mail.language == "ar" and "10" in mail.subject
    assert not any("a" <= ch <= "z" for ch in mail.subject.replace("USD", ""))
    assert notices(db, f"payment:{paid_yes}:credited") == [f"payment:{paid_yes}:credited"]
    assert mails_to(db, no) == []


def test_low_balance_is_told_when_crossed_and_again_only_after_going_back_above(
    db: Database,
) -> None:
    customer = make_user(db, balance="100")
    choose(db, customer, low_balance=Decimal("50"))
    run(db)
    assert mails_to(db, customer) == []

    def set_balance(amount: str) -> None:
        with db.write() as session:
            session.execute(update(User).where(User.id == customer.id).values(
                balance=Decimal(amount)))

    set_balance("20")
    run(db)
    run(db)
    [mail] = mails_to(db, customer)
    assert "50" in mail.subject and "20" in mail.text_body
    set_balance("10")
    run(db)
    assert len(mails_to(db, customer)) == 1  # still below: told once
    set_balance("80")
    run(db)
    set_balance("5")
    run(db, now=utcnow() + timedelta(seconds=2))
    assert len(mails_to(db, customer)) == 2
    assert len(notices(db, f"low_balance:{customer.id}:")) == 2


def test_the_daily_digest_groups_a_days_partial_and_canceled_orders(db: Database) -> None:
    arabic, english, quiet = (make_user(db, balance="100", lang="ar"),
                              make_user(db, balance="100"), make_user(db, balance="100"))
    choose(db, quiet, digest=False)
    sid = service_id(db)
    today = datetime.now(UTC).replace(hour=3, minute=0, second=0, microsecond=0)
    yesterday = today - timedelta(days=1)
    made: dict[int, list[int]] = {}
    for user in (arabic, english, quiet):
        ids = [place(db, user, sid) for _ in range(3)]
        made[user.id] = ids
        with db.write() as session:
            for order_id, status in zip(ids, (st.PARTIAL, st.CANCELED, st.COMPLETED),
                                        strict=True):
                session.execute(update(Order).where(Order.id == order_id).values(
                    status=status, finished_at=yesterday))
    older = place(db, english, sid)
    with db.write() as session:
        session.execute(update(Order).where(Order.id == older).values(
            status=st.CANCELED, finished_at=yesterday - timedelta(days=1)))
    run(db, now=today)
    run(db, now=today + timedelta(minutes=1))
    [mail] = mails_to(db, english)
    body = mail.text_body
    partial, canceled, completed = made[english.id]
    assert f"Order {partial}: Partial" in body and f"Order {canceled}: Canceled" in body
    assert f"Order {completed}:" not in body and f"Order {older}:" not in body
    assert yesterday.date().isoformat() in mail.subject
    [arabic_mail] = mails_to(db, arabic)
    assert arabic_mail.language == "ar" and "Partial" not in arabic_mail.text_body
    assert 'dir="rtl"' in arabic_mail.html_body
    assert mails_to(db, quiet) == []
    assert notices(db, f"digest:{english.id}:") == [
        f"digest:{english.id}:{yesterday.date().isoformat()}"]


def test_ticket_replies_follow_the_customers_choice(db: Database) -> None:
    customer, agent = make_user(db), make_user(db, staff=True)
    choose(db, customer, ticket_replies=False)
    with db.write() as session:
        me = session.get(User, customer.id)
        assert me is not None
        ticket_id = tickets.open_ticket(session, me, subject=ts.OTHER, title="Hi",
                                        message="Hi", order_ids="").id
    with db.write() as session:
        tickets.staff_reply(session, Actor.staff(agent.id, agent.name, "127.0.0.1"),
                            ticket_id, "Answer")
    assert mails_to(db, customer) == []
    choose(db, customer, ticket_replies=True)
    with db.write() as session:
        tickets.staff_reply(session, Actor.staff(agent.id, agent.name, "127.0.0.1"),
                            ticket_id, "Answer 2")
    assert len(mails_to(db, customer)) == 1


@pytest.mark.parametrize("typed", ["abc", "-5", "0", "1e400", "NaN", "Infinity", "1.000001",
                                   "9" * 40, "2000000000", "1\n2", "1,5", "<b>"])
def test_a_bad_threshold_is_refused(typed: str) -> None:
    with pytest.raises(DomainError):
        prefs.parse_threshold(typed)


def test_defaults_and_a_good_threshold(db: Database) -> None:
    assert prefs.parse_threshold("  ") is None
    assert prefs.parse_threshold("12.5") == Decimal("12.5")
    assert prefs.parse_threshold("١٠") == Decimal(10)  # Arabic-Indic digits are digits
    user = make_user(db)
    with db.read() as session:
        assert prefs.get(session, user.id) == prefs.Prefs(
            ticket_replies=True, payments=True, digest=True, low_balance=None,
            staff_alerts=True)
    choose(db, user, low_balance=Decimal("12.5"), digest=False)
    with db.read() as session:
        saved = prefs.get(session, user.id)
    assert (saved.low_balance, saved.digest, saved.threshold_text) == (
        Decimal("12.5"), False, "12.5")


def test_the_worker_scans_at_most_once_a_minute(db: Database) -> None:
    from opensmm.fulfillment.worker import Worker

    agent, customer = make_user(db, staff=True), make_user(db, balance="100")
    first_order = place(db, customer, service_id(db))
    with db.write() as session:
        session.execute(update(Order).where(Order.id == first_order).values(send_state=HELD))
    worker = Worker(db)
    try:
        assert worker.run_once().notices == 1
        second_order = place(db, customer, service_id(db))
        with db.write() as session:
            session.execute(update(Order).where(Order.id == second_order).values(
                send_state=HELD))
        assert worker.run_once().notices == 0  # the next scan is a minute away
        worker._next_notify = utcnow() - timedelta(seconds=1)
        assert worker.run_once().notices == 1
    finally:
        worker.close()
    assert len(mails_to(db, agent)) == 2


def test_an_unusable_address_does_not_stop_the_others(db: Database) -> None:
    good, bad = make_user(db, staff=True), make_user(db, staff=True)
    with db.write() as session:
        session.execute(update(User).where(User.id == bad.id).values(email="no address\n@x"))
    customer = make_user(db)
    with db.write() as session:
        me = session.get(User, customer.id)
        assert me is not None
        tickets.open_ticket(session, me, subject=ts.OTHER, title="Hi", message="Hi",
                            order_ids="")
    assert run(db).notices == 1
    assert len(mails_to(db, good)) == 1
