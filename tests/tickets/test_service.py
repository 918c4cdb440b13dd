"""Tickets, news and the catalog's updates as services, on SQLite and PostgreSQL: the rules,
the limits, staff acting on orders through the API's own services, and two staff acting at
once."""

from __future__ import annotations

import threading
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from opensmm.accounts import service as accounts
from opensmm.accounts.models import User
from opensmm.audit.actor import Actor
from opensmm.audit.models import AuditEntry
from opensmm.catalog import service as catalog
from opensmm.catalog import updates
from opensmm.catalog.models import CatalogUpdate
from opensmm.client import Service as UpstreamService
from opensmm.db import Database
from opensmm.errors import DomainError, NotFound
from opensmm.ledger import service as ledger
from opensmm.mail.models import MailOutbox
from opensmm.news import service as news
from opensmm.orders import service as orders
from opensmm.orders.models import Order
from opensmm.providers import service as providers
from opensmm.refills.models import Refill
from opensmm.tickets import notify
from opensmm.tickets import service as tickets
from opensmm.tickets import statuses as ts
from opensmm.tickets.models import Ticket, TicketMessage


def make_user(db: Database, *, staff: bool = False, balance: str = "0", lang: str = "") -> User:
    name = f"{'s' if staff else 'c'}{uuid.uuid4().hex[:8]}"
    with db.write() as session:
        user = accounts.create_user(session, name, email=f"{name}@example.test",
                                    is_admin=staff)
        if lang:
            user.language = lang
        if Decimal(balance):
            ledger.add_funds(session, user.id, Decimal(balance), memo="test", actor="test")
        session.flush()
        session.expunge(user)
        return user


def actor_of(user: User) -> Actor:
    return Actor.staff(user.id, user.name, "127.0.0.1")


def make_service(db: Database, **fields: object) -> int:
    values: dict[str, object] = {"name": "Followers", "category": "Instagram",
                                 "rate": Decimal("1"), "min_quantity": 10,
                                 "max_quantity": 10_000}
    values.update(fields)
    with db.write() as session:
        return catalog.add_service(session, **values).id  # type: ignore[arg-type]


def place(db: Database, user: User, service_id: int, *, completed: bool = False) -> int:
    with db.write() as session:
        customer = session.get(User, user.id)
        assert customer is not None
        order = orders.place_order(session, customer, {"service": service_id,
                                                      "link": "https://x.test/a",
                                                      "quantity": 100})
        order_id = order.id
    if completed:
        with db.write() as session:
            orders.apply_update(session, order_id, orders.OrderUpdate(status="Completed"), "t")
    return order_id


def open_ticket(db: Database, user: User, **fields: str) -> int:
    values = {"subject": ts.OTHER, "title": "Help", "message": "Hello", "order_ids": ""}
    values.update(fields)
    with db.write() as session:
        customer = session.get(User, user.id)
        assert customer is not None
        return tickets.open_ticket(session, customer, **values).id


def refusal(db: Database, user: User, **fields: str) -> str:
    with pytest.raises(DomainError) as caught:
        open_ticket(db, user, **fields)
    return caught.value.message


def test_a_ticket_goes_back_and_forth_with_its_status_and_unread_markers(db: Database) -> None:
    customer, agent = make_user(db), make_user(db, staff=True)
    ticket_id = open_ticket(db, customer, title="Where is my order?", message="Line 1\nLine 2")
    with db.read() as session:
        ticket = session.get(Ticket, ticket_id)
        assert ticket is not None
        assert (ticket.status, ticket.staff_unread, ticket.customer_unread) == (
            ts.OPEN, True, False)
    with db.write() as session:
        tickets.staff_reply(session, actor_of(agent), ticket_id, "  We are on it.  ")
    with db.read() as session:
        ticket = tickets.get_ticket(session, ticket_id)
        assert (ticket.status, ticket.staff_unread, ticket.customer_unread) == (
            ts.ANSWERED, False, True)
        assert tickets.unread_for_customer(session, customer.id) == 1
        assert [m.body for m in tickets.thread(session, ticket_id)] == [
            "Line 1\nLine 2", "We are on it."]
    with db.write() as session:
        customer_row = session.get(User, customer.id)
        assert customer_row is not None
        tickets.seen_by_customer(tickets.get_ticket(session, ticket_id, customer.id))
        tickets.customer_reply(session, customer_row, ticket_id, "Thanks, still waiting")
    with db.read() as session:
        ticket = tickets.get_ticket(session, ticket_id)
        assert (ticket.status, ticket.staff_unread, ticket.customer_unread) == (
            ts.CUSTOMER_REPLY, True, False)
        assert tickets.unread_for_staff(session) >= 1
    with db.write() as session:
        tickets.assign(session, actor_of(agent), ticket_id, agent.id)
        tickets.set_closed(session, actor_of(agent), ticket_id, True)
        tickets.set_closed(session, actor_of(agent), ticket_id, True)  # a second click
    with db.write() as session, pytest.raises(DomainError, match="closed"):
        customer_row = session.get(User, customer.id)
        assert customer_row is not None
        tickets.customer_reply(session, customer_row, ticket_id, "again")
    with db.write() as session:
        tickets.set_closed(session, actor_of(agent), ticket_id, False)
    with db.read() as session:
        assert tickets.get_ticket(session, ticket_id).status == ts.OPEN
        mine = tickets.inbox(session, tickets.InboxFilter(assignee=str(agent.id)), 1)
        assert [t.id for t, _ in mine.items] == [ticket_id]
        assert tickets.inbox(session, tickets.InboxFilter(assignee="none", subject=ts.OTHER),
                             1).total == 0
        actions = list(session.scalars(select(AuditEntry.action).where(
            AuditEntry.target == f"ticket:{ticket_id}").order_by(AuditEntry.id)))
        assert actions == ["ticket.reply", "ticket.assign", "ticket.close", "ticket.reopen"]


def test_order_ids_are_checked_against_the_customers_own_orders(db: Database) -> None:
    customer, other = make_user(db, balance="10"), make_user(db, balance="10")
    service = make_service(db)
    mine, theirs = place(db, customer, service), place(db, other, service)
    assert "not your orders: " + str(theirs) in refusal(
        db, customer, subject=ts.REFILL, order_ids=f"{mine}, {theirs}")
    assert "not your orders" in refusal(db, customer, subject=ts.CANCEL, order_ids="2147483647")
    assert "is not an order id" in refusal(db, customer, subject=ts.ORDER, order_ids="12, abc")
    assert "is not an order id" in refusal(db, customer, subject=ts.ORDER,
                                           order_ids="99999999999999999999")
    assert "ids of the orders" in refusal(db, customer, subject=ts.REFILL, order_ids=" , ")
    ticket_id = open_ticket(db, customer, subject=ts.REFILL, order_ids=f"#{mine}; {mine}")
    with db.read() as session:
        assert tickets.get_ticket(session, ticket_id).orders == [mine]
        with pytest.raises(NotFound):
            tickets.get_ticket(session, ticket_id, other.id)


def test_hostile_and_oversized_input_is_refused_and_changes_nothing(db: Database) -> None:
    customer = make_user(db)
    assert "choose a subject" in refusal(db, customer, subject="<script>")
    assert "title" in refusal(db, customer, title="   ")
    assert "at most 150" in refusal(db, customer, title="x" * 151)
    assert "at most 5000" in refusal(db, customer, message="x" * 5001)
    assert "write a message" in refusal(db, customer, message="\n\t ")
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(Ticket)) == 0
    payload = "<script>alert(1)</script>\u202e\u0000\x1b\nline"
    ticket_id = open_ticket(db, customer, title=payload, message=payload)
    with db.read() as session:
        assert tickets.get_ticket(session, ticket_id).title == (
            "<script>alert(1)</script>\u202eline")
        assert tickets.thread(session, ticket_id)[0].body == (
            "<script>alert(1)</script>\u202e\nline")


def test_open_tickets_and_messages_per_minute_are_limited(db: Database) -> None:
    customer, agent = make_user(db), make_user(db, staff=True)
    first = open_ticket(db, customer)
    for _ in range(tickets.MAX_OPEN_TICKETS - 1):
        open_ticket(db, customer)
    assert "open tickets" in refusal(db, customer)
    with db.write() as session:
        tickets.set_closed(session, actor_of(agent), first, True)
    # A closed ticket frees a place, but the customer has sent 5 messages this minute.
    assert "too fast" in refusal(db, customer)
    with db.write() as session:
        for message in session.scalars(select(TicketMessage)):
            message.created_at = message.created_at.replace(year=2020)
    open_ticket(db, customer)


def test_staff_refill_goes_through_the_apis_service_once(db: Database) -> None:
    customer, agent = make_user(db, balance="10"), make_user(db, staff=True)
    refillable = make_service(db, refill=True, refill_days=30)
    plain = make_service(db, name="No refill")
    done = place(db, customer, refillable, completed=True)
    running = place(db, customer, refillable)
    no_refill = place(db, customer, plain, completed=True)
    ticket_id = open_ticket(db, customer, subject=ts.REFILL,
                            order_ids=f"{done}, {running}, {no_refill}")
    results = []
    for order_id in (done, done, running, no_refill):
        with db.write() as session:
            message = tickets.act_on_order(session, actor_of(agent), ticket_id, order_id,
                                           ts.REFILL)
            results.append((message.action, dict(message.params or {})))
    assert results[0][0] == tickets.REFILLED
    assert [r[0] for r in results[1:]] == [tickets.REFUSED] * 3
    assert results[1][1]["reason"] == "A refill for this order is already in progress"
    assert results[2][1]["reason"].startswith("Refill is available only for completed")
    assert results[3][1]["reason"] == "Refill is not available for this service"
    with db.read() as session:
        refills = list(session.scalars(select(Refill)))
        assert [(r.order_id, r.user_id) for r in refills] == [(done, customer.id)]
        assert results[0][1]["refill"] == refills[0].id
        ticket = tickets.get_ticket(session, ticket_id)
        assert (ticket.status, ticket.customer_unread) == (ts.ANSWERED, True)
        audited = list(session.scalars(select(AuditEntry).where(
            AuditEntry.action.startswith("ticket.refill")).order_by(AuditEntry.id)))
        assert [a.action for a in audited] == ["ticket.refill"] + ["ticket.refill_refused"] * 3
        assert audited[0].params == {"ticket": ticket_id, "order": done,
                                     "refill": refills[0].id}
    # An order the ticket does not name, and a cancel on a refill ticket, are refused.
    with db.write() as session, pytest.raises(NotFound):
        tickets.act_on_order(session, actor_of(agent), ticket_id, done + 1000, ts.REFILL)
    with db.write() as session, pytest.raises(DomainError, match="does not ask"):
        tickets.act_on_order(session, actor_of(agent), ticket_id, done, ts.CANCEL)


def test_staff_cancel_refunds_through_the_ledger_like_the_api(db: Database) -> None:
    customer, agent = make_user(db, balance="10"), make_user(db, staff=True)
    service = make_service(db, cancel=True, rate=Decimal("2"))
    order_id = place(db, customer, service)
    ticket_id = open_ticket(db, customer, subject=ts.CANCEL, order_ids=str(order_id))
    with db.write() as session:
        first = tickets.act_on_order(session, actor_of(agent), ticket_id, order_id, ts.CANCEL)
    with db.write() as session:
        second = tickets.act_on_order(session, actor_of(agent), ticket_id, order_id, ts.CANCEL)
    assert first.action == tickets.CANCELED
    assert second.action == tickets.REFUSED
    with db.read() as session:
        order = session.get(Order, order_id)
        assert order is not None
        assert order.status == "Canceled"
        assert order.refunded == Decimal("0.2")
        user = session.get(User, customer.id)
        assert user is not None
        assert user.balance == Decimal("10")
        assert ledger.check(session) == []


@pytest.mark.parametrize("action", [ts.REFILL, ts.CANCEL])
def test_two_staff_acting_at_once_act_once(db: Database, action: str) -> None:
    customer, agent, other = (make_user(db, balance="10"), make_user(db, staff=True),
                              make_user(db, staff=True))
    service = make_service(db, refill=True, cancel=True)
    order_id = place(db, customer, service, completed=action == ts.REFILL)
    ticket_a = open_ticket(db, customer, subject=action, order_ids=str(order_id))
    ticket_b = open_ticket(db, customer, subject=action, order_ids=str(order_id))
    start = threading.Barrier(4)
    outcomes: list[str | None] = []
    errors: list[BaseException] = []

    def act(staff: User, ticket_id: int) -> None:
        try:
            start.wait()
            with db.write() as session:
                message = tickets.act_on_order(session, actor_of(staff), ticket_id, order_id,
                                               action)
                outcomes.append(message.action)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=act, args=args) for args in (
        (agent, ticket_a), (other, ticket_a), (agent, ticket_b), (other, ticket_b))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(o or "" for o in outcomes) == sorted(
        [tickets.REFILLED if action == ts.REFILL else tickets.CANCELED]
        + [tickets.REFUSED] * 3)
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(Refill)) == (
            1 if action == ts.REFILL else 0)
        assert ledger.check(session) == []
        user = session.get(User, customer.id)
        assert user is not None
        assert user.balance == (Decimal("9.9") if action == ts.REFILL else Decimal("10"))


def test_canned_replies(db: Database) -> None:
    agent = make_user(db, staff=True)
    with db.write() as session:
        row = tickets.add_canned(session, actor_of(agent), "Refill done", "Your refill is on.")
    with db.write() as session, pytest.raises(DomainError):
        tickets.add_canned(session, actor_of(agent), "", "x")
    with db.write() as session:
        assert [r.title for r in tickets.canned_replies(session)] == ["Refill done"]
        tickets.delete_canned(session, actor_of(agent), row.id)
    with db.read() as session:
        assert tickets.canned_replies(session) == []
        with pytest.raises(NotFound):
            tickets.get_canned(session, row.id)


def test_the_reply_mail_is_written_in_the_customers_language(db: Database) -> None:
    customer, agent = make_user(db, lang="ar"), make_user(db, staff=True)
    ticket_id = open_ticket(db, customer, title="Late <b>order</b>")
    with db.write() as session:
        message = tickets.staff_reply(session, actor_of(agent), ticket_id, "Fixed.")
        ticket = tickets.get_ticket(session, ticket_id)
        text = notify.mail_text(session, ticket, message, base_url="https://panel.test/")
    assert text is not None
    with db.read() as session:  # staff_reply queued it, in the reply's own unit of work
        [mail] = session.scalars(select(MailOutbox).where(MailOutbox.recipient == customer.email))
    assert (mail.template, mail.language, mail.status) == ("ticket_reply", "ar", "queued")
    assert mail.subject == text["subject"] and "Fixed." in mail.text_body
    assert "Late &lt;b&gt;order&lt;/b&gt;" in mail.html_body and "<b>order" not in mail.html_body
    assert text["to"] == customer.email
    assert text["language"] == "ar"
    assert text["link"] == f"https://panel.test/tickets/{ticket_id}"
    assert "Fixed." in text["body"] and text["link"] in text["body"]
    assert "Late <b>order</b>" in text["subject"]
    assert "new reply" not in text["subject"]  # translated


def test_catalog_changes_are_recorded_where_they_happen(db: Database) -> None:
    agent = make_user(db, staff=True)
    service_id = make_service(db, name="Likes", rate=Decimal("1.5"))
    hidden = make_service(db, name="Hidden", enabled=False)
    with db.write() as session:
        service = catalog.get_service(session, service_id)
        fields = {name: getattr(service, name) for name in (
            "name", "type", "min_quantity", "max_quantity", "refill", "refill_days",
            "cancel", "dripfeed", "one_active_per_link", "description", "enabled")}
        catalog.update_service(session, service_id, category="Instagram",
                               **{**fields, "rate": Decimal("1.50")})  # the same rate
        catalog.update_service(session, service_id, category="Instagram",
                               **{**fields, "rate": Decimal("2")})
    with db.write() as session:
        from opensmm.catalog import staff as catalog_staff

        catalog_staff.set_service_enabled(session, actor_of(agent), service_id, False)
    with db.write() as session:
        catalog.set_service_enabled(session, service_id, True)
    # A change rolled back leaves no update behind.
    with pytest.raises(RuntimeError), db.write() as session:
        catalog.set_service_enabled(session, service_id, False)
        session.flush()
        raise RuntimeError("rolled back")
    # A service created disabled is new to customers when it is first enabled.
    with db.write() as session:
        catalog.set_service_enabled(session, hidden, True)
    with db.read() as session:
        rows = list(session.scalars(select(CatalogUpdate).order_by(CatalogUpdate.id)))
    assert [(r.kind, r.service_name, r.old_rate, r.new_rate) for r in rows] == [
        (updates.NEW, "Likes", None, Decimal("1.5")),
        (updates.RATE, "Likes", Decimal("1.5"), Decimal("2")),
        (updates.DISABLED, "Likes", None, Decimal("2")),
        (updates.ENABLED, "Likes", None, Decimal("2")),
        (updates.NEW, "Hidden", None, Decimal("1")),
    ]


def test_provider_sync_reprices_and_disables_into_the_updates(db: Database) -> None:
    def upstream(item_id: int, rate: str, kind: str = "Default") -> UpstreamService:
        return UpstreamService(id=item_id, name=f"Up {item_id}", type=kind, category="Up",
                               rate=Decimal(rate), min=10, max=1000, refill=False,
                               cancel=False, dripfeed=False, description=None)

    with db.write() as session:
        provider = providers.add_provider(session, "up", "https://up.test/api/v2", "k")
        provider_id = provider.id
        report = providers.import_services(session, provider_id,
                                           [upstream(1, "1"), upstream(2, "1")],
                                           markup_percent=Decimal("50"))
        assert len(report.created) == 2
    with db.write() as session:
        providers.sync_services(session, provider_id, [upstream(1, "2"),
                                                       upstream(2, "1", kind="Package")])
    with db.read() as session:
        rows = list(session.scalars(select(CatalogUpdate).order_by(CatalogUpdate.id)))
    # One flush may record its services in any order.
    assert sorted((r.kind, r.service_name, r.old_rate, r.new_rate) for r in rows[:2]) == [
        (updates.NEW, "Up 1", None, Decimal("1.5")),
        (updates.NEW, "Up 2", None, Decimal("1.5")),
    ]
    assert sorted((r.kind, r.service_name, r.old_rate, r.new_rate) for r in rows[2:]) == [
        (updates.DISABLED, "Up 2", None, Decimal("1.5")),
        (updates.RATE, "Up 1", Decimal("1.5"), Decimal("3")),
    ]


def test_announcements_in_each_language_fall_back_to_the_default(db: Database) -> None:
    agent = make_user(db, staff=True)
    with db.write() as session, pytest.raises(DomainError, match="default language"):
        news.post(session, actor_of(agent), {"ar": ("عنوان", "نص")}, "en")
    with db.write() as session, pytest.raises(DomainError, match="both a title and a text"):
        news.post(session, actor_of(agent), {"en": ("Title", "")}, "en")
    with db.write() as session:
        news.post(session, actor_of(agent), {"en": ("Only English", "Body")}, "en")
        news.post(session, actor_of(agent), {"en": ("New prices", "Cheaper\nnow"),
                                             "ar": ("أسعار جديدة", "أرخص الآن")}, "en")
    with db.read() as session:
        assert [s.title for s in news.latest(session, "ar", "en")] == [
            "أسعار جديدة", "Only English"]
        assert [s.title for s in news.latest(session, "en", "en", limit=1)] == ["New prices"]
        assert news.page_of(session, "en", "en", 1).total == 2


def test_the_migration_goes_down_and_up_again(db: Database, database_url: str) -> None:
    from alembic import command
    from sqlalchemy import inspect

    from opensmm.db.migrate import alembic_config, pending_differences

    customer = make_user(db)
    open_ticket(db, customer)
    db.dispose()
    command.downgrade(alembic_config(database_url), "0012-1")  # whatever 0012 follows
    engine = Database(database_url)
    try:
        with engine.read() as session:
            names = set(inspect(session.connection()).get_table_names())
        assert not names & {"tickets", "ticket_messages", "canned_replies", "announcements",
                            "catalog_updates"}
    finally:
        engine.dispose()
    command.upgrade(alembic_config(database_url), "head")
    assert pending_differences(database_url) == []


def test_a_refusal_in_the_thread_is_translated_with_its_words() -> None:
    from opensmm.i18n.translate import Translator

    message = TicketMessage(action=tickets.REFUSED, params={
        "order": 5, "reason": orders.ONLY_CANCEL_LEFT,
        "values": {"id": "5", "status": "Partial"}, "terms": ["status"]})
    english = notify.reply_text(Translator("en"), message)
    assert english == ("Order 5 was not changed: Order 5 is Partial and partly refunded; "
                       "it can only be canceled")
    arabic = notify.reply_text(Translator("ar"), message)
    assert "Partial" not in arabic and Translator("ar")("Partial") in arabic
