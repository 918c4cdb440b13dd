"""Held orders and alerts as staff see them (``opensmm order list --held``) and settle them."""

from __future__ import annotations

import json
from decimal import Decimal

from sqlalchemy import update

from opensmm.db import Database
from opensmm.fulfillment.worker import Worker
from opensmm.providers.models import Provider
from tests.fakepanel import Drop, FakePanel
from tests.fulfillment import helpers as h
from tests.fulfillment.conftest import KEY
from tests.fulfillment.upstream import Book
from tests.support.panel import run_cli


def test_held_orders_are_listed_with_their_reason_and_settled_by_a_person(
    database_url: str, db: Database, fake: FakePanel, book: Book, worker: Worker
) -> None:
    provider_id = h.provider(db, fake.url, KEY)
    service_id = h.provider_service(db, provider_id)
    who = h.customer(db, "10")
    fake.on("add", Drop())
    exists, missing, canceled = (h.place(db, who, service_id, 100) for _ in range(3))
    for _ in range(3):  # one doubtful call per pass: each one is held, then back off lifted
        h.passes(worker, 1)
        with db.write() as session:
            session.execute(update(Provider).values(backoff_until=None))
    assert fake.count("add") == 3
    assert h.cancel(db, who, canceled).cancel_state == "requested"

    listed = run_cli(database_url, "order", "list", "--held").stdout
    for order_id in (exists, missing, canceled):
        assert f"HELD order {order_id} of {who.name}" in listed
    assert "In doubt" in listed and "--upstream-id N" in listed
    assert "PROVIDER " in listed  # the provider's own alert (it dropped the connection)
    items = json.loads(run_cli(database_url, "order", "list", "--held", "--json").stdout)
    assert sorted(i["id"] for i in items["items"]) == sorted([exists, missing, canceled])

    # It was created after all: follow it from its upstream id.
    fake.on("add", book.add)
    upstream = book.add(fake.received("add")[0])["order"]
    book.set(upstream, "In progress", remains=20)
    run_cli(database_url, "order", "resolve", str(exists), "--upstream-id", str(upstream))
    # It was not: send it again (the person's decision, never the worker's).
    run_cli(database_url, "order", "resolve", str(missing), "--resend")
    # Its customer asked to cancel meanwhile and it never existed: canceled and refunded.
    run_cli(database_url, "order", "resolve", str(canceled), "--resend")
    h.passes(worker, 1)

    assert h.get_order(db, exists).status == "In progress"
    assert h.get_order(db, missing).send_state == "sent"
    assert (h.get_order(db, canceled).status, h.balance(db, who)) == ("Canceled", Decimal("9.8"))
    assert fake.count("add") == 4
    assert run_cli(database_url, "order", "list", "--held").stdout == (
        "Nothing is held and there are no alerts\n"
    )

    again = run_cli(database_url, "order", "resolve", str(exists), "--resend", check=False)
    assert again.returncode == 1 and "is not held" in again.stderr
    both = run_cli(database_url, "order", "resolve", str(missing), check=False)
    assert both.returncode == 1 and "--upstream-id N" in both.stderr
    assert h.ledger_clean(db)


def test_alerts_that_do_not_hold_an_order_are_listed_too(
    database_url: str, db: Database, fake: FakePanel, book: Book, worker: Worker
) -> None:
    provider_id = h.provider(db, fake.url, KEY)
    order_id = h.place(db, h.customer(db), h.provider_service(db, provider_id), 100)
    h.passes(worker, 1)
    book.set(h.get_order(db, order_id).upstream_id or 0, "Teleporting")
    h.passes(worker, 1)
    listed = run_cli(database_url, "order", "list", "--held").stdout
    assert f"ALERT order {order_id}" in listed and "'Teleporting'" in listed
    assert run_cli(database_url, "order", "list", "--held", "--json").returncode == 0
