"""Routes with failover, against two real fake upstreams on 127.0.0.1: an order goes to the
next route only when its route proves nothing was created there; an order in doubt never
moves (never at two providers); the route taken and the upstream's charge are recorded,
and the profit counts that charge exactly."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select, update

from opensmm.catalog import routes
from opensmm.db import Database
from opensmm.fulfillment import held
from opensmm.fulfillment.worker import Worker
from opensmm.orders import queries
from opensmm.orders.models import Order, OrderEvent
from opensmm.providers.models import Provider
from tests.fakepanel import FakePanel, Json, Slow, Text, Truncated, free_port
from tests.fulfillment import helpers as h
from tests.fulfillment.conftest import KEY
from tests.fulfillment.upstream import Book

# Refusals that prove the upstream created nothing, and say nothing against the order.
PROVING = {
    "not enough funds": {"error": "Not enough funds on balance"},
    "incorrect service id": {"error": "Incorrect service ID"},
    "service disabled upstream": {"error": "Service is disabled"},
    "api key refused": {"error": "Invalid API key"},
}
# Answers after which nobody can tell whether the upstream created the order.
IN_DOUBT = {
    "timeout after sending": Slow(Json({"order": 1}), 3.0),
    "HTTP 500": Text("Internal Server Error", status=500),
    "garbage body": Text("<html><body>502 Bad Gateway</body></html>"),
    "connection reset mid-answer": Truncated({"order": 12345}, keep=4),
}


@pytest.fixture
def second() -> Iterator[FakePanel]:
    with FakePanel(key=KEY) as panel:
        yield panel
    assert not panel.errors, panel.errors


@pytest.fixture
def second_book(second: FakePanel) -> Book:
    upstream = Book(first_id=9000)
    upstream.install(second)
    return upstream


class Charging(Book):
    """A fake upstream whose ``status`` entries carry ``charge`` as given (None: left out)."""

    def __init__(self, charge: str | None) -> None:
        super().__init__()
        self.charge = charge

    def _one(self, order_id: str) -> Any:
        entry = super()._one(order_id)
        entry.pop("charge", None)
        if self.charge is not None:
            entry["charge"] = self.charge
        return entry


def two_routes(db: Database, first_url: str, second_url: str) -> tuple[int, int, int]:
    """A service on route 1 (upstream service 1, cost 0.50) and route 2 (service 2, 0.80)."""
    first = h.provider(db, first_url, KEY)
    other = h.provider(db, second_url, KEY)
    service_id = h.provider_service(db, first, 1, provider_rate=Decimal("0.50"))
    with db.write() as session:
        routes.add_route(session, service_id, other, 2, Decimal("0.80"))
    return first, other, service_id


def routed_events(db: Database, order_id: int) -> list[dict[str, Any]]:
    with db.read() as session:
        rows = session.scalars(
            select(OrderEvent.params).where(
                OrderEvent.order_id == order_id, OrderEvent.code == "order.routed"
            )
        ).all()
    return [dict(row or {}) for row in rows]


def test_a_proving_refusal_sends_the_order_to_the_next_route(
    db: Database, fake: FakePanel, second: FakePanel, second_book: Book, worker: Worker
) -> None:
    who = h.customer(db)
    for name, refusal in PROVING.items():
        fake.on("add", refusal)
        adds = fake.count("add"), second.count("add")
        _first, other, service_id = two_routes(db, fake.url, second.url)
        order_id = h.place(db, who, service_id, 100)

        tally = h.passes(worker, 2)
        order = h.get_order(db, order_id)
        assert (order.send_state, order.provider_id, order.provider_service_id) == (
            "sent", other, 2
        ), name
        assert order.upstream_id == second_book.orders[order.upstream_id or 0].id
        assert tally.routed == 1 and tally.held == 0, name
        assert (fake.count("add"), second.count("add")) == (adds[0] + 1, adds[1] + 1), name
        assert second.last("add").params["service"] == "2"
        [moved] = routed_events(db, order_id)
        assert (moved["old"], moved["new"], moved["provider"], moved["service"]) == (
            1, 2, other, 2
        )
        assert refusal["error"] in moved["reason"]


def test_an_order_in_doubt_never_moves_to_another_route(
    db: Database, fake: FakePanel, second: FakePanel, second_book: Book, worker: Worker
) -> None:
    # Failover on a provider that is down is immediate here: still no move when in doubt.
    worker.config = replace(worker.config, route_failover_minutes=0)
    who = h.customer(db)
    for name, reply in IN_DOUBT.items():
        fake.on("add", reply)
        adds = fake.count("add")
        first, _other, service_id = two_routes(db, fake.url, second.url)
        order_id = h.place(db, who, service_id, 100)

        tally = h.passes(worker, 2)
        order = h.get_order(db, order_id)
        assert (order.send_state, order.provider_id, order.upstream_id) == (
            "held", first, None
        ), name
        assert tally.routed == 0 and routed_events(db, order_id) == [], name
        assert fake.count("add") == adds + 1, name
    assert second.count("add") == 0


def test_a_disabled_provider_passes_its_orders_to_the_next_route_without_a_call(
    db: Database, fake: FakePanel, book: Book, second: FakePanel, second_book: Book,
    worker: Worker,
) -> None:
    first, other, service_id = two_routes(db, fake.url, second.url)
    with db.write() as session:
        session.execute(update(Provider).where(Provider.id == first).values(enabled=False))
    order_id = h.place(db, h.customer(db), service_id, 100)
    h.passes(worker, 1)
    order = h.get_order(db, order_id)
    assert (order.send_state, order.provider_id) == ("sent", other)
    assert fake.count("add") == 0 and second.count("add") == 1
    assert "disabled" in routed_events(db, order_id)[0]["reason"]


def test_a_provider_down_passes_its_orders_on_after_the_set_minutes(
    db: Database, second: FakePanel, second_book: Book, worker: Worker
) -> None:
    down = f"http://127.0.0.1:{free_port()}/api/v2"  # refuses connections: nothing sent
    first, other, service_id = two_routes(db, down, second.url)
    order_id = h.place(db, h.customer(db), service_id, 100)

    tally = h.passes(worker, 2)  # backed off; the order waits its minutes there
    assert (tally.retried, tally.routed) == (1, 0)
    assert h.get_order(db, order_id).provider_id == first

    worker.config = replace(worker.config, route_failover_minutes=0)
    tally = h.passes(worker, 1)
    order = h.get_order(db, order_id)
    assert (tally.routed, order.send_state, order.provider_id) == (1, "sent", other)
    assert second.count("add") == 1


def test_when_every_route_refuses_the_order_waits_or_is_held_as_before(
    db: Database, fake: FakePanel, second: FakePanel, worker: Worker
) -> None:
    fake.on("add", {"error": "Not enough funds on balance"})
    second.on("add", {"error": "Not enough funds on balance"})
    _first, other, service_id = two_routes(db, fake.url, second.url)
    who = h.customer(db)
    waiting = h.place(db, who, service_id, 100)
    h.passes(worker, 3)
    order = h.get_order(db, waiting)
    # Moved once, refused there too: it waits (backed off) on the last route, not held.
    assert (order.send_state, order.provider_id, order.upstream_id) == ("new", other, None)
    assert fake.count("add") == 1 and second.count("add") == 1
    assert "Not enough funds" in (order.alert or "")

    fake.on("add", {"error": "Incorrect service ID"})
    second.on("add", {"error": "Incorrect service ID"})
    with db.write() as session:
        session.execute(update(Provider).values(send_paused_until=None, backoff_until=None))
    refused = h.place(db, who, service_id, 100)
    h.passes(worker, 2)
    order = h.get_order(db, refused)
    assert (order.send_state, order.provider_id) == ("held", other)
    assert "Incorrect service ID" in (order.held_reason or "")
    with db.read() as session:
        assert refused in [a.id for a in held.needing_attention(session)[0]]


def test_the_upstream_charge_is_recorded_and_the_profit_is_exact(
    db: Database, fake: FakePanel, worker: Worker
) -> None:
    book = Charging(None)
    book.install(fake)
    provider_id = h.provider(db, fake.url, KEY)
    service_id = h.provider_service(db, provider_id, 7, provider_rate=Decimal("0.33333"),
                                    rate=Decimal("1.00"))
    order_id = h.place(db, h.customer(db), service_id, 300)
    h.passes(worker, 1)
    order = h.get_order(db, order_id)
    # Sent: the route's cost for 300 units, an estimate until the upstream tells.
    assert (order.upstream_charge, order.upstream_estimated) == (Decimal("0.10000"), True)
    assert (order.provider_id, order.provider_service_id) == (provider_id, 7)

    book.charge = "0.10"
    book.set(order.upstream_id or 0, "In progress", remains=100)
    h.passes(worker, 1)
    order = h.get_order(db, order_id)
    assert (order.upstream_charge, order.upstream_estimated) == (Decimal("0.10"), False)
    with db.read() as session:
        today = queries.daily_totals(session, 1)[-1]
    assert (today.revenue, today.cost, today.profit) == (
        Decimal("0.30"), Decimal("0.10"), Decimal("0.20")
    )


def test_an_upstream_without_a_charge_keeps_the_estimate_for_what_was_delivered(
    db: Database, fake: FakePanel, worker: Worker
) -> None:
    upstream = Charging("-3")  # a charge it cannot mean: no charge
    upstream.install(fake)
    provider_id = h.provider(db, fake.url, KEY)
    service_id = h.provider_service(db, provider_id, 7, provider_rate=Decimal("0.50"))
    order_id = h.place(db, h.customer(db), service_id, 400)
    h.passes(worker, 1)
    upstream.set_all("Partial", remains=100)
    h.passes(worker, 1)
    order = h.get_order(db, order_id)
    assert (order.status, order.upstream_charge, order.upstream_estimated) == (
        "Partial", Decimal("0.20"), True
    )
    with db.read() as session:
        assert queries.daily_totals(session, 1)[-1].cost == Decimal("0.15")  # 300 delivered
    assert queries.upstream_cost_of(order) == Decimal("0.15")


def test_an_order_whose_route_was_removed_starts_again_on_route_1(
    db: Database, fake: FakePanel, book: Book, second: FakePanel, second_book: Book,
    worker: Worker,
) -> None:
    first, other, service_id = two_routes(db, fake.url, second.url)
    with db.write() as session:
        _first_route, second_route = routes.list_routes(session, service_id)
        routes.move_route(session, service_id, second_route.id, 1)
    order_id = h.place(db, h.customer(db), service_id, 100)
    assert h.get_order(db, order_id).provider_id == other
    with db.write() as session:
        routes.remove_route(session, service_id, second_route.id)
        session.execute(update(Order).where(Order.id == order_id).values(next_poll_at=None))
    h.passes(worker, 2)
    order = h.get_order(db, order_id)
    assert (order.send_state, order.provider_id, order.provider_service_id) == (
        "sent", first, 1
    )
    assert fake.count("add") == 1 and second.count("add") == 0
