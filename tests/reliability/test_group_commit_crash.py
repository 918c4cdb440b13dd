"""A real ``opensmm serve`` with group commit on, SIGKILLed while batches of ``add`` are in
flight, then restarted: a crash before a batch's COMMIT acknowledges nothing of it, after
it everything (opensmm.api.group_commit).

Several funded customers send many concurrent ``add`` requests, each with its own link and
idempotency key, so that every request can be found (or not) in the database afterwards,
and among them ``cancel`` requests of orders they placed before, each order named once.
The server is killed once some have been answered, with dozens still in flight. After the
restart: every order answered is there, whole (order, its placing event, its charge, its
idempotency key), every cancel answered is done, whole (canceled and refunded); nothing is
there that was not asked for; an unanswered request is there whole or not at all (sent
again, an ``add`` with its key answers the order that is there or places it now, a cancel
is refused as done or done now); each balance is its funding minus the charges of its
orders not canceled, exactly, and the ledger adds up.
"""

from __future__ import annotations

import asyncio
import signal
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from opensmm.ledger.models import LedgerEntry
from opensmm.orders import service as orders
from opensmm.orders.models import IdempotencyKey, Order, OrderEvent
from tests.support.databases import KINDS
from tests.support.panel import Customer, Panel, running_panel

CUSTOMERS = 4
PER_CUSTOMER = 400  # more than are sent before the kill: the stream is cut, not finished
CANCEL_EVERY = 5  # every fifth request of a customer cancels one of its earlier orders
IN_FLIGHT_EACH = 16  # 64 requests in flight at any time
KILL_AFTER = 120  # answers before the SIGKILL
RATE = "3.33337"
QUANTITY = 370
FUNDS = Decimal(1000)
ENV = {
    "OPENSMM_API_GROUP_COMMIT": "on",
    # A wide window: batches of dozens, so that the kill lands inside one.
    "OPENSMM_API_GROUP_COMMIT_MS": "20",
    "OPENSMM_ACCESS_LOG": "false",
}


@dataclass
class Sent:
    customer: Customer
    link: str
    key: str  # its idempotency key
    cancel: int | None = None  # a cancel of this order, not an add
    answer: Any = None  # the decoded answer, if one came
    failed: str = ""  # the client's error, if none came

    def form(self, service: int) -> dict[str, str]:
        if self.cancel is not None:
            return {"key": self.customer.key, "action": "cancel", "order": str(self.cancel)}
        return {
            "key": self.customer.key, "action": "add", "service": str(service),
            "quantity": str(QUANTITY), "link": self.link, "idempotency_key": self.key,
        }


@pytest.fixture(params=KINDS)
def crash_panel(request: pytest.FixtureRequest, database_servers: dict[str, Any]) -> Any:
    with running_panel(database_servers, str(request.param), "--no-worker", env=ENV) as panel:
        yield panel


async def stream_and_kill(panel: Panel, requests: list[Sent], service: int) -> None:
    """Each customer's requests, IN_FLIGHT_EACH at a time; SIGKILL after KILL_AFTER answers.
    A request that fails stops its sender (the server is gone): the rest are never sent."""
    assert panel.process is not None
    answered = 0
    killed = asyncio.Event()
    limits = httpx.Limits(max_connections=CUSTOMERS * IN_FLIGHT_EACH)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:

        async def sender(mine: list[Sent]) -> None:
            nonlocal answered
            for request in mine:
                if killed.is_set():
                    return
                try:
                    response = await client.post(panel.api_url, data=request.form(service))
                    request.answer = response.json()
                except httpx.HTTPError as exc:
                    request.failed = type(exc).__name__ or "error"
                    return
                answered += 1
                if answered == KILL_AFTER and panel.process is not None:
                    panel.process.send_signal(signal.SIGKILL)
                    killed.set()

        await asyncio.gather(*(sender(lane) for lane in lanes(requests)))


def lanes(requests: list[Sent]) -> list[list[Sent]]:
    """IN_FLIGHT_EACH senders per customer, each with every IN_FLIGHT_EACH-th request."""
    by_customer: dict[int, list[Sent]] = {}
    for request in requests:
        by_customer.setdefault(request.customer.id, []).append(request)
    return [
        mine[start::IN_FLIGHT_EACH]
        for mine in by_customer.values()
        for start in range(IN_FLIGHT_EACH)
    ]


def rows(panel: Panel) -> dict[str, Any]:
    with panel.db.read() as session:
        entries = list(
            session.scalars(select(LedgerEntry).where(LedgerEntry.order_id.is_not(None)))
        )
        return {
            "orders": {
                o.link: (o.id, o.user_id, o.charge, o.status)
                for o in session.scalars(select(Order))
            },
            "orders_count": session.scalar(select(func.count()).select_from(Order)),
            "placed": set(session.scalars(select(OrderEvent.order_id))),
            "charges": {
                e.order_id: (e.user_id, e.amount) for e in entries if e.kind == "charge"
            },
            "refunds": {
                e.order_id: (e.user_id, e.amount) for e in entries if e.kind == "refund"
            },
            "keys": {
                (k.user_id, k.key): k.order_id for k in session.scalars(select(IdempotencyKey))
            },
        }


def set_up(panel: Panel) -> tuple[list[Customer], int, list[Sent], dict[str, int]]:
    """The customers, the service, every request of the stream in each customer's order,
    and the orders there before it (by link) that its cancels name."""
    customers = [panel.customer(balance=FUNDS) for _ in range(CUSTOMERS)]
    service = panel.service(rate=RATE, max_quantity=1000, cancel=True)
    before: dict[str, int] = {}
    requests = []
    for customer in customers:
        with panel.write() as session:  # one unit for the set-up's orders: quicker
            for n in range(PER_CUSTOMER):
                link = f"https://crash.test/{customer.id}/{n}"
                # Cancels among the first hundred: more than are sent before the kill.
                if n % CANCEL_EVERY == CANCEL_EVERY - 1 and n < 100:
                    link = f"https://before.test/{customer.id}/{n}"
                    before[link] = orders.place(
                        session, orders.Customer(customer.id, Decimal(0)),
                        {"service": service, "link": link, "quantity": QUANTITY},
                    ).id
                    requests.append(Sent(customer, link, "", cancel=before[link]))
                else:
                    requests.append(Sent(customer, link, f"k{customer.id}-{n}"))
    return customers, service, requests, before


def test_a_sigkill_during_group_commit_acknowledges_only_what_committed(
    crash_panel: Panel,
) -> None:
    panel = crash_panel
    customers, service, requests, before = set_up(panel)
    assert panel.process is not None
    server = panel.process
    asyncio.run(stream_and_kill(panel, requests, service))
    assert server.wait(timeout=15) == -signal.SIGKILL  # it died of the kill, not cleanly
    panel.process = None

    answered = [r for r in requests if r.answer is not None]
    unanswered = [r for r in requests if r.failed]
    unsent = [r for r in requests if r.answer is None and not r.failed]
    # The kill cut the stream mid-way: requests answered, and requests in flight (at most
    # one per sender) that never got an answer; a wide window means they were in batches.
    assert len(answered) >= KILL_AFTER, len(answered)
    assert len(unanswered) >= CUSTOMERS * IN_FLIGHT_EACH // 2, len(unanswered)
    assert unsent, "the kill came after the stream had ended"
    adds = [r for r in answered if r.cancel is None]
    cancels = [r for r in answered if r.cancel is not None]
    assert adds and cancels, "both kinds were answered"
    assert all("order" in r.answer for r in adds), [r.answer for r in adds][:5]
    assert all(r.answer == [{"order": r.cancel, "cancel": 1}] for r in cancels), [
        r.answer for r in cancels
    ][:5]

    panel.start("--no-worker", env=ENV)  # restart: recovery (SQLite's WAL, PostgreSQL's)
    found = rows(panel)
    asked = {r.link: r for r in requests}
    # Nothing that was not asked for (or there before), and nothing twice.
    assert set(found["orders"]) <= set(asked)
    assert set(before) <= set(found["orders"])
    assert found["orders_count"] == len(found["orders"])
    # Every answered order is there, as answered, and every order there is whole.
    for request in adds:
        assert found["orders"].get(request.link, (None,))[0] == request.answer["order"]
    canceled = set()
    for link, (order_id, user_id, charge, status) in found["orders"].items():
        request = asked[link]
        assert user_id == request.customer.id
        assert order_id in found["placed"]
        assert found["charges"][order_id] == (user_id, -charge)
        if request.cancel is None:
            assert found["keys"][(user_id, request.key)] == order_id
            assert status == "Pending"
        # Canceled, whole: refunded in full; or untouched.
        assert status in ("Pending", "Canceled")
        if status == "Canceled":
            canceled.add(order_id)
            assert found["refunds"][order_id] == (user_id, charge)
    assert set(found["refunds"]) == canceled
    assert set(found["charges"]) == {o[0] for o in found["orders"].values()}
    assert set(found["keys"].values()) == {
        o[0] for link, o in found["orders"].items() if link not in before
    }
    # Answered cancels are done; never sent: nothing there, nothing canceled.
    assert {r.cancel for r in cancels} <= canceled
    assert not any(r.link in found["orders"] for r in unsent if r.cancel is None)
    assert not any(r.cancel in canceled for r in unsent)
    # Unanswered: whole (checked above) or absent. Sent again: an add answers the order
    # that is there (its key), or places it now; a cancel is refused as done, or done now.
    present = [
        r for r in unanswered
        if (r.link in found["orders"] if r.cancel is None else r.cancel in canceled)
    ]
    for request in unanswered:
        again = panel.http.post(panel.api_url, data=request.form(service)).json()
        if request.cancel is not None:
            done = {"error": "The order is already canceled"} if request in present else 1
            assert again == [{"order": request.cancel, "cancel": done}], again
        elif request in present:
            assert again["order"] == found["orders"][request.link][0], again
        else:
            assert again["order"] > max(o[0] for o in found["orders"].values()), again
    # Money: funding minus the charges of the orders there not canceled, exactly; the
    # ledger adds up.
    final = rows(panel)
    for customer in customers:
        spent = sum(
            (
                charge
                for _, user_id, charge, status in final["orders"].values()
                if user_id == customer.id and status != "Canceled"
            ),
            Decimal(0),
        )
        assert panel.balance(customer) == FUNDS - spent
    assert panel.ledger_mismatches() == []
    print(
        f"{panel.kind}: {len(answered)} answered ({len(cancels)} cancels), "
        f"{len(unanswered)} unanswered ({len(present)} of them committed), "
        f"{len(unsent)} never sent"
    )
