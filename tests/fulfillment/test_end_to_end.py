"""Two real panels over real HTTP: A (a reseller) buys from B (simulator mode).

A customer of A uses a PyPI client (``safesmm``). Orders travel A -> B, statuses and
Partial refunds travel back B -> A, refills and cancels travel A -> B and their outcome
back; both ledgers check clean. Each panel's worker runs inside its ``opensmm serve``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import safesmm
from sqlalchemy import select

from opensmm.db import Database
from opensmm.money import format_money, refund_share
from opensmm.orders.models import Order
from opensmm.refills.models import Refill
from tests.support.databases import KINDS
from tests.support.panel import Panel

FINAL = ("Completed", "Partial", "Canceled")
FAST_WORKER = {
    "OPENSMM_WORKER_IDLE_SECONDS": "0.05",
    "OPENSMM_WORKER_POLL_SECONDS": "0.2",
    "OPENSMM_WORKER_BACKOFF_SECONDS": "0.2",
    "OPENSMM_WORKER_BACKOFF_MAX_SECONDS": "2",
    "OPENSMM_LOG_FORMAT": "text",
}
SIMULATOR = {
    "OPENSMM_SIMULATOR_SECONDS": "0.3",
    "OPENSMM_SIMULATOR_SEED": "0",  # B's orders 3, 4, 6, 8, 9, 10 end Partial
    "OPENSMM_SIMULATOR_PARTIAL_PERCENT": "40",
}


def _panel(kind: str, servers: dict[str, Any], env: dict[str, str]) -> Panel:
    url = servers[kind].new_database()
    panel = Panel(kind=kind, database_url=url, db=Database(url))
    panel.start(env=env)
    return panel


@pytest.fixture(scope="module", params=KINDS)
def panels(request: pytest.FixtureRequest, database_servers: dict[str, Any]) -> Iterator[
    tuple[Panel, Panel]
]:
    servers = database_servers
    upstream = _panel(request.param, servers, {**FAST_WORKER, **SIMULATOR})
    reseller = _panel(request.param, servers, FAST_WORKER)
    try:
        yield reseller, upstream
    finally:
        for panel in (reseller, upstream):
            panel.stop()
            panel.db.dispose()
            servers[request.param].drop(panel.database_url)


@pytest.fixture(scope="module")
def wired(panels: tuple[Panel, Panel]) -> dict[str, Any]:
    """B sells simulated services; A imports them with a 20 % markup; A has a customer."""
    reseller, upstream = panels
    upstream.service(name="Followers", rate="1.00", fulfillment="simulator", refill=True,
                     cancel=True)
    upstream.service(name="Slow likes", rate="0.50", fulfillment="simulator", cancel=True,
                     dripfeed=True)
    account = upstream.customer(balance="1000", name="reseller-a")
    reseller.cli("provider", "add", "B", upstream.api_url, account.key)
    imported = json.loads(
        reseller.cli("provider", "import", "B", "--markup", "20", "--json").stdout
    )["created"]
    by_name = {item["name"]: item["id"] for item in imported}
    customer = reseller.customer(balance="100")
    return {
        "account": account,
        "customer": customer,
        "client": safesmm.SafeSMM(customer.key, api_url=reseller.api_url),
        "followers": by_name["Followers"],
        "likes": by_name["Slow likes"],
    }


def wait_for(check: Any, what: str, seconds: float = 90) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"gave up waiting for {what}")


def orders_of(panel: Panel, ids: list[int]) -> dict[int, Order]:
    with panel.db.read() as session:
        return {o.id: o for o in session.scalars(select(Order).where(Order.id.in_(ids)))}


def test_orders_complete_and_partial_refunds_reach_the_customer(
    panels: tuple[Panel, Panel], wired: dict[str, Any]
) -> None:
    reseller, upstream = panels
    client: safesmm.SafeSMM = wired["client"]
    listed = {s["service"]: s for s in client.services()}
    assert listed[wired["followers"]]["rate"] == "1.20"  # 1.00 + 20 %
    placed = [
        client.add_order(wired["followers"], f"https://instagram.com/p/{n}", 200)["order"]
        for n in range(12)
    ]

    def all_final() -> bool:
        answer = client.multi_status(placed)
        return all(answer[str(i)]["status"] in FINAL for i in placed)

    wait_for(all_final, "the orders to finish at B and come home to A")
    ours = orders_of(reseller, placed)
    theirs = orders_of(upstream, [o.upstream_id or 0 for o in ours.values()])
    partial = 0
    for order in ours.values():
        upstream_order = theirs[order.upstream_id or 0]
        assert order.send_state == "sent" and upstream_order.fulfillment == "simulator"
        assert (order.status, order.remains) == (upstream_order.status, upstream_order.remains)
        assert order.start_count == upstream_order.start_count
        if order.status == "Partial":
            partial += 1
            assert order.refunded == refund_share(order.charge, order.remains, order.units) > 0
            assert upstream_order.refunded > 0
        else:
            assert order.status == "Completed" and order.refunded == 0
    assert 0 < partial < len(placed)
    spent = sum((o.charge - o.refunded for o in ours.values()), Decimal(0))
    assert reseller.balance(wired["customer"]) == Decimal(100) - spent
    first = ours[placed[0]]
    assert client.status(placed[0])["charge"] == format_money(first.charge - first.refunded)
    assert reseller.ledger_mismatches() == [] and upstream.ledger_mismatches() == []


def test_a_refill_travels_to_b_and_its_status_comes_back(
    panels: tuple[Panel, Panel], wired: dict[str, Any]
) -> None:
    reseller, upstream = panels
    client: safesmm.SafeSMM = wired["client"]
    order_id = client.add_order(wired["followers"], "https://instagram.com/p/refill", 100)[
        "order"
    ]
    wait_for(lambda: client.status(order_id)["status"] in FINAL, "the order to finish")
    refill_id = int(client.refill(order_id)["refill"])
    key = wired["customer"].key

    def refill_done() -> bool:
        answer = reseller.api(key, "refill_status", refill=refill_id)
        return bool(answer["status"] == "Completed")

    wait_for(refill_done, "the refill to complete at B and come back")
    with reseller.db.read() as session:
        ours = session.get(Refill, refill_id)
        order = session.get(Order, order_id)
        assert ours is not None and order is not None
    with upstream.db.read() as session:
        theirs = session.get(Refill, ours.upstream_id or 0)
        assert theirs is not None
        assert (theirs.order_id, theirs.status) == (order.upstream_id, "Completed")


def test_a_cancel_travels_to_b_and_the_refund_comes_back(
    panels: tuple[Panel, Panel], wired: dict[str, Any]
) -> None:
    reseller, upstream = panels
    client: safesmm.SafeSMM = wired["client"]
    before = reseller.balance(wired["customer"])
    # Drip-feed: 100 runs, a simulator stage each; far from done when the cancel arrives.
    order_id = client.add_order(
        wired["likes"], "https://instagram.com/p/cancel", 1000, runs=100, interval=5
    )["order"]
    wait_for(lambda: orders_of(reseller, [order_id])[order_id].upstream_id, "the order at B")
    assert client.cancel([order_id]) == [{"order": order_id, "cancel": 1}]

    wait_for(lambda: client.status(order_id)["status"] in ("Canceled", "Partial"), "the cancel")
    ours = orders_of(reseller, [order_id])[order_id]
    theirs = orders_of(upstream, [ours.upstream_id or 0])[ours.upstream_id or 0]
    assert (ours.status, ours.remains) == (theirs.status, theirs.remains)
    assert ours.cancel_state == "sent" and theirs.cancel_state == "sent"
    expected = ours.charge if ours.status == "Canceled" else refund_share(
        ours.charge, ours.remains, ours.units
    )
    assert ours.refunded == expected > 0
    assert reseller.balance(wired["customer"]) == before - ours.charge + ours.refunded
    [again] = client.cancel([order_id])
    assert set(again["cancel"]) == {"error"}
    assert reseller.ledger_mismatches() == [] and upstream.ledger_mismatches() == []


def _workers_started(panel: Panel) -> int:
    return sum(
        1
        for line in panel.server_log().splitlines()
        if "opensmm.fulfillment" in line and "worker" in line and line.endswith("started")
    )


def test_serve_runs_one_worker_whatever_its_processes_and_none_with_no_worker(
    panels: tuple[Panel, Panel], database_servers: dict[str, Any]
) -> None:
    reseller, _ = panels
    assert _workers_started(reseller) == 1
    kind = reseller.kind
    for args, expected in ((("--workers", "2"), 1), (("--no-worker",), 0)):
        url = database_servers[kind].new_database()
        panel = Panel(kind=kind, database_url=url, db=Database(url))
        panel.start(*args, env=FAST_WORKER)
        try:
            service = panel.service(fulfillment="simulator")
            customer = panel.customer(balance="10")
            order = panel.api(
                customer.key, "add", service=service, link="https://x.test/a", quantity=100
            )["order"]
            if expected:
                wait_for(lambda o=order, p=panel: orders_of(p, [o])[o].send_state, "a send")
            else:  # nothing in this serve works on it; a separate worker does
                panel.cli("worker", "--once")
                assert orders_of(panel, [order])[order].send_state == "sent"
        finally:
            panel.stop()
        try:
            assert _workers_started(panel) == expected, panel.server_log()
        finally:
            panel.db.dispose()
            database_servers[kind].drop(url)
