"""A real ``opensmm serve`` with group commit on, SIGKILLed while batches of ``add`` are in
flight, then restarted: a crash before a batch's COMMIT acknowledges nothing of it, after
it everything (opensmm.api.group_commit).

Several funded customers send many concurrent ``add`` requests, each with its own link and
idempotency key, so that every request can be found (or not) in the database afterwards.
The server is killed once some have been answered, with dozens still in flight. After the
restart: every order answered is there, whole (order, its placing event, its charge, its
idempotency key); nothing is there that was not asked for; an unanswered request is there
whole or not at all (sent again with its key, it answers the order that is there, or
places it now); each balance is its funding minus the charges of its orders, and the
ledger adds up.
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
from opensmm.orders.models import IdempotencyKey, Order, OrderEvent
from tests.support.databases import KINDS
from tests.support.panel import Customer, Panel, running_panel

CUSTOMERS = 4
PER_CUSTOMER = 400  # more than are sent before the kill: the stream is cut, not finished
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
    answer: Any = None  # the decoded answer, if one came
    failed: str = ""  # the client's error, if none came

    def form(self, service: int) -> dict[str, str]:
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
        return {
            "orders": {
                o.link: (o.id, o.user_id, o.charge)
                for o in session.scalars(select(Order))
            },
            "orders_count": session.scalar(select(func.count()).select_from(Order)),
            "placed": set(session.scalars(select(OrderEvent.order_id))),
            "charges": {
                e.order_id: (e.user_id, e.amount)
                for e in session.scalars(select(LedgerEntry).where(LedgerEntry.kind == "charge"))
            },
            "keys": {
                (k.user_id, k.key): k.order_id for k in session.scalars(select(IdempotencyKey))
            },
        }


def test_a_sigkill_during_group_commit_acknowledges_only_what_committed(
    crash_panel: Panel,
) -> None:
    panel = crash_panel
    customers = [panel.customer(balance=FUNDS) for _ in range(CUSTOMERS)]
    service = panel.service(rate=RATE, max_quantity=1000)
    requests = [
        Sent(customer, f"https://crash.test/{customer.id}/{n}", f"k{customer.id}-{n}")
        for customer in customers
        for n in range(PER_CUSTOMER)
    ]
    assert panel.process is not None
    server = panel.process
    asyncio.run(stream_and_kill(panel, requests, service))
    assert server.wait(timeout=15) == -signal.SIGKILL  # it died of the kill, not cleanly
    panel.process = None

    answered = [r for r in requests if r.answer is not None]
    unanswered = [r for r in requests if r.failed]
    unsent = [r for r in requests if r.answer is None and not r.failed]
    # The kill cut the stream mid-way: orders answered, and requests in flight (at most one
    # per sender) that never got an answer; a wide window means they were in batches.
    assert len(answered) >= KILL_AFTER, len(answered)
    assert len(unanswered) >= CUSTOMERS * IN_FLIGHT_EACH // 2, len(unanswered)
    assert unsent, "the kill came after the stream had ended"
    assert all("order" in r.answer for r in answered), [
        r.answer for r in answered if "order" not in r.answer
    ][:5]

    panel.start("--no-worker", env=ENV)  # restart: recovery (SQLite's WAL, PostgreSQL's)
    found = rows(panel)
    asked = {r.link: r for r in requests}
    # Nothing that was not asked for, and nothing twice.
    assert set(found["orders"]) <= set(asked)
    assert found["orders_count"] == len(found["orders"])
    # Every answered order is there, as answered, and every order there is whole.
    for request in answered:
        assert found["orders"].get(request.link, (None,))[0] == request.answer["order"]
    for link, (order_id, user_id, charge) in found["orders"].items():
        request = asked[link]
        assert user_id == request.customer.id
        assert order_id in found["placed"]
        assert found["charges"][order_id] == (user_id, -charge)
        assert found["keys"][(user_id, request.key)] == order_id
    assert set(found["charges"]) == {o[0] for o in found["orders"].values()}
    assert set(found["keys"].values()) == {o[0] for o in found["orders"].values()}
    # Never sent: not there.
    assert not any(r.link in found["orders"] for r in unsent)
    # Unanswered: whole (checked above) or absent; sent again with its key, it answers the
    # order that is there, or places it now.
    present = [r for r in unanswered if r.link in found["orders"]]
    for request in unanswered:
        again = panel.http.post(panel.api_url, data=request.form(service)).json()
        assert "order" in again, again
        if request in present:
            assert again["order"] == found["orders"][request.link][0]
        else:
            assert again["order"] > max(o[0] for o in found["orders"].values())
    # Money: funding minus the charges of the orders there, exactly; the ledger adds up.
    final = rows(panel)
    for customer in customers:
        spent = sum(
            (charge for _, user_id, charge in final["orders"].values() if user_id == customer.id),
            Decimal(0),
        )
        assert panel.balance(customer) == FUNDS - spent
    assert panel.ledger_mismatches() == []
    print(
        f"{panel.kind}: {len(answered)} answered, {len(unanswered)} unanswered "
        f"({len(present)} of them committed), {len(unsent)} never sent"
    )
