"""Auto-refill (opensmm.refills.auto), on both databases: every N days inside the refill
window, never twice, never for canceled orders or outside the window, safe with two workers
at once; through the worker's phase the refill travels like a customer's; the CLI sets it."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

from opensmm.accounts import service as accounts
from opensmm.audit.actor import Actor
from opensmm.catalog import staff as catalog_staff
from opensmm.catalog.models import Service
from opensmm.cli.main import app
from opensmm.db import Database, get_database, utcnow
from opensmm.errors import DomainError
from opensmm.fulfillment import states as fs
from opensmm.fulfillment.worker import Worker
from opensmm.orders import service as orders
from opensmm.orders import statuses as st
from opensmm.orders.models import Order, OrderEvent
from opensmm.refills import auto
from opensmm.refills import service as refills
from opensmm.refills import statuses as rs
from opensmm.refills.models import Refill
from opensmm.settings import get_settings
from tests.fulfillment.helpers import FAST, customer, get_order, passes, place, service

DAY = timedelta(days=1)
CLI = Actor.cli()


def finish(db: Database, order_id: int, status: str, at: datetime) -> None:
    """The order ends with ``status``, as the worker or staff would end it, at ``at``."""
    with db.write() as session:
        remains = 10 if status == st.PARTIAL else None
        orders.apply_update(session, order_id, orders.OrderUpdate(status=status,
                                                                  remains=remains), "test")
    with db.write() as session:
        session.execute(update(Order).where(Order.id == order_id).values(finished_at=at))


def refills_of(db: Database, order_id: int) -> list[Refill]:
    with db.read() as session:
        return list(session.scalars(select(Refill).where(Refill.order_id == order_id)
                                    .order_by(Refill.id)))


def close(db: Database, refill_id: int) -> None:
    with db.write() as session:
        refills.set_refill_status(session, refill_id, rs.COMPLETED, "test")


def auto_service(db: Database, every: int = 7, window: int = 30) -> int:
    service_id = service(db, refill_days=window)
    with db.write() as session:
        catalog_staff.set_auto_refill(session, CLI, service_id, every)
    return service_id


def own_refill(db: Database, order_id: int, at: datetime) -> int:
    """A customer's refill asked at ``at`` (crafted: the request itself uses the clock)."""
    with db.write() as session:
        order = session.get(Order, order_id)
        assert order is not None
        row = Refill(order_id=order_id, user_id=order.user_id, status=rs.PENDING,
                     created_at=at, updated_at=at)
        session.add(row)
        session.flush()
        return row.id


def close_open(db: Database, *order_ids: int) -> None:
    for order_id in order_ids:
        for row in refills_of(db, order_id):
            if row.status in rs.OPEN:
                close(db, row.id)


def test_every_n_days_inside_the_window_never_twice(db: Database) -> None:
    who = customer(db)
    service_id = auto_service(db, every=7, window=30)
    t0 = utcnow() - timedelta(days=60)
    done, partial, canceled, asked = (place(db, who, service_id) for _ in range(4))
    finish(db, done, st.COMPLETED, t0)
    finish(db, partial, st.PARTIAL, t0)
    finish(db, canceled, st.CANCELED, t0)
    finish(db, asked, st.COMPLETED, t0)
    own = own_refill(db, asked, t0 + 5 * DAY)  # the customer's own, still open

    assert auto.run(db, t0 + 7 * DAY - timedelta(seconds=1)) == 0  # not N days yet
    assert auto.run(db, t0 + 7 * DAY) == 2  # Completed and Partial; not Canceled nor open
    assert auto.run(db, t0 + 7 * DAY) == 0  # not twice
    first = refills_of(db, done)
    assert [(r.status, r.created_at, r.send_state, r.automatic) for r in first] == [
        (rs.PENDING, t0 + 7 * DAY, None, True)]  # a manual order's refill stays with staff
    assert refills_of(db, canceled) == []
    assert [r.id for r in refills_of(db, asked)] == [own]

    close(db, first[0].id)
    close(db, own)
    assert auto.run(db, t0 + 12 * DAY) == 1  # only asked: the customer's was 7 days ago
    assert refills_of(db, asked)[-1].created_at == t0 + 12 * DAY
    assert auto.run(db, t0 + 13 * DAY) == 0  # done's last is 6 days old, partial's is open
    assert auto.run(db, t0 + 14 * DAY) == 1  # done's is 7 days old now
    close_open(db, done, partial, asked)
    # The window is 30 days from the finish: day 30 is in it, ...
    assert auto.run(db, t0 + 30 * DAY) == 3
    close_open(db, done, partial, asked)
    # ... day 37, when all three are 7 days past their last refill, is not.
    assert auto.run(db, t0 + 37 * DAY) == 0
    assert [len(refills_of(db, o)) for o in (done, partial, canceled, asked)] == [3, 2, 0, 3]

    with db.read() as session:
        rows = session.execute(
            select(OrderEvent.actor_kind, OrderEvent.actor, OrderEvent.params)
            .where(OrderEvent.order_id == done,
                   OrderEvent.code == "order.auto_refill_requested")
            .order_by(OrderEvent.id)
        ).all()
    assert [(kind, name) for kind, name, _ in rows] == [("worker", "")] * 3
    assert [str(params["refill"]) for _, _, params in rows] == [
        str(r.id) for r in refills_of(db, done)]


def test_a_suspended_customers_orders_wait_until_the_account_is_active(db: Database) -> None:
    who = customer(db)
    service_id = auto_service(db, every=7, window=30)
    t0 = utcnow() - timedelta(days=60)
    order_id = place(db, who, service_id)
    finish(db, order_id, st.COMPLETED, t0)
    with db.write() as session:
        accounts.set_status(session, who.name, active=False)
    with db.read() as session:
        assert auto.due_orders(session, t0 + 7 * DAY) == []
    assert auto.run(db, t0 + 7 * DAY) == 0
    # Suspended between the pass's read and its transaction: the recheck under the lock.
    with db.write() as session:
        assert auto.request(session, order_id, t0 + 7 * DAY) is None
    assert refills_of(db, order_id) == []
    with db.write() as session:
        accounts.set_status(session, who.name, active=True)
    assert auto.run(db, t0 + 7 * DAY) == 1


def test_two_workers_at_once_ask_each_refill_once(db: Database) -> None:
    who = customer(db)
    service_id = auto_service(db, every=3, window=30)
    now = utcnow()
    ids = [place(db, who, service_id) for _ in range(12)]
    for order_id in ids:
        finish(db, order_id, st.COMPLETED, now - 5 * DAY)
    start = threading.Barrier(2)
    asked: list[int] = []

    def one_worker() -> None:
        start.wait()
        asked.append(auto.run(db, now))

    threads = [threading.Thread(target=one_worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(asked) == len(ids)
    assert [len(refills_of(db, order_id)) for order_id in ids] == [1] * len(ids)


def test_the_worker_phase_asks_and_sends_it_like_a_customers(db: Database) -> None:
    """A simulator order: the auto-refill goes the way of a refill of an order that went
    out (sent, then followed), and the worker's tally counts it."""
    who = customer(db)
    service_id = service(db, fulfillment="simulator", refill_days=30)
    order_id = place(db, who, service_id)
    first = Worker(db, FAST)
    try:
        passes(first, 3)
    finally:
        first.close()
    assert get_order(db, order_id).status in st.FINISHED
    with db.write() as session:
        catalog_staff.set_auto_refill(session, CLI, service_id, 2)
        session.execute(update(Order).where(Order.id == order_id)
                        .values(finished_at=utcnow() - 2 * DAY - timedelta(minutes=1)))
    worker = Worker(db, FAST)
    try:
        tally = worker.run_once()
        assert tally.auto_refills == 1
        (row,) = refills_of(db, order_id)
        assert row.send_state == fs.SENT  # sent in the same pass, after being asked
        passes(worker, 2)
        assert refills_of(db, order_id)[0].status == rs.COMPLETED
        assert worker.run_once().auto_refills == 0  # the next look is a minute away
    finally:
        worker.close()


def test_setting_it_refuses_what_cannot_work_and_the_cli_turns_it_on_and_off(
    db: Database, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    no_refill = service(db, refill=False)
    with db.write() as session, pytest.raises(DomainError, match="offers refills"):
        catalog_staff.set_auto_refill(session, CLI, no_refill, 7)
    service_id = service(db, refill_days=10)
    for bad in (0, 11):
        with db.write() as session, pytest.raises(DomainError, match="refill days"):
            catalog_staff.set_auto_refill(session, CLI, service_id, bad)

    monkeypatch.setenv("OPENSMM_DATABASE_URL", database_url)
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        result = runner.invoke(app, ["service", "auto-refill", str(service_id),
                                     "--every-days", "5"])
        assert result.exit_code == 0, result.output
        assert "a refill every 5 days, within 10 days" in result.stdout
        with db.read() as session:
            assert session.get(Service, service_id).auto_refill_days == 5  # type: ignore[union-attr]
        for args in ([str(service_id)], [str(service_id), "--every-days", "3", "--off"],
                     [str(service_id), "--every-days", "30"],
                     ["99999999999999999999", "--off"], [str(service_id + 1000), "--off"]):
            refused = runner.invoke(app, ["service", "auto-refill", *args])
            assert refused.exit_code == 1 and "Traceback" not in refused.output
            assert refused.stderr.startswith("error: "), refused.stderr
        result = runner.invoke(app, ["service", "auto-refill", str(service_id), "--off"])
        assert result.exit_code == 0 and "auto-refill off" in result.stdout
        with db.read() as session:
            assert session.get(Service, service_id).auto_refill_days is None  # type: ignore[union-attr]
    finally:
        get_database(database_url).dispose()
        get_settings.cache_clear()
