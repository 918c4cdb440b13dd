"""``smmpy`` 0.1.0, unchanged, against a running panel.

``smmpy.smm(api_url, api_key)`` POSTs with ``requests``, an explicit
``Content-Type: application/x-www-form-urlencoded`` and the PHP example's MSIE 5.01
User-Agent; every parameter is sent as ``str``. A JSON object with a truthy ``error``
becomes a plain ``Exception(message)``; a non-2xx status would lose the message (it only
keeps ``requests``' text), which is why every answer is HTTP 200. ``add_order`` always
sends ``quantity``: for Custom Comments the spec's ``quantity=0`` means "count the lines".
No incompatibility with a spec-conforming panel.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
import smmpy

from tests.clients.world import START, World, make_world, service_row
from tests.support.panel import Panel


@pytest.fixture
def world(panel: Panel) -> World:
    return make_world(panel)


@pytest.fixture
def client(world: World) -> smmpy.smm:
    return smmpy.smm(world.panel.api_url, world.key)


def test_services_and_balance(client: smmpy.smm, world: World) -> None:
    assert client.get_balance() == {"balance": "50.00", "currency": "USD"}
    row = service_row(client.get_services(), world.default)
    assert (row["min"], row["max"], row["dripfeed"]) == ("10", "10000", True)


def test_add_status_multi_status(client: smmpy.smm, world: World) -> None:
    plain = client.add_order(world.default, "https://y.test/1", 333)["order"]
    drip = client.add_order(world.default, "https://y.test/2", 100, runs=10, interval=60)["order"]
    comments = client.add_order(world.comments, "https://y.test/3", 0, comments="a\r\nb\r\nc\r\nd")[
        "order"
    ]
    assert world.order(plain).charge == Decimal("0.2997")
    assert (world.order(drip).units, world.order(drip).charge) == (1000, Decimal("0.90"))
    assert (world.order(comments).units, world.order(comments).charge) == (4, Decimal("0.04938"))
    assert world.balance() == START - Decimal("0.2997") - Decimal("0.90") - Decimal("0.04938")
    world.panel.set_order(plain, status="Processing", start_count=1)
    world.panel.set_order(drip, status="Partial", remains=999)
    assert client.get_status(plain)["status"] == "Processing"
    answer = client.get_multi_status([plain, drip, comments, 0])
    assert answer[str(drip)] == {
        # 999 of 1000 undelivered: refund 0.8991, so 0.0009 paid in the end.
        "charge": "0.0009",
        "start_count": "0",
        "status": "Partial",
        "remains": "999",
        "currency": "USD",
    }
    assert answer[str(comments)]["remains"] == "4"
    assert answer["0"] == {"error": "Incorrect order ID"}
    assert world.balance() == START - Decimal("0.2997") - Decimal("0.0009") - Decimal("0.04938")


def test_refills_single_and_multi(client: smmpy.smm, world: World) -> None:
    a = client.add_order(world.default, "https://y.test/r1", 100)["order"]
    b = client.add_order(world.default, "https://y.test/r2", 100)["order"]
    world.panel.set_order(a, status="Completed")
    world.panel.set_order(b, status="Completed")
    refill = int(client.create_refill(a)["refill"])
    multi = client.create_multi_refill([a, b])
    assert multi[0] == {
        "order": a,
        "refill": {"error": "A refill for this order is already in progress"},
    }
    assert multi[1]["order"] == b
    other = multi[1]["refill"]
    assert client.get_refill_status(refill) == {"status": "Pending"}
    world.panel.set_refill(other, "error")
    assert client.get_multi_refill_status([refill, other]) == [
        {"refill": refill, "status": "Pending"},
        {"refill": other, "status": "Error"},
    ]
    assert sorted(r.id for r in world.refills()) == sorted([refill, other])


def test_cancel(client: smmpy.smm, world: World) -> None:
    a = client.add_order(world.default, "https://y.test/c1", 100)["order"]
    b = client.add_order(world.default, "https://y.test/c2", 100)["order"]
    assert client.cancel_orders([b, a, b]) == [  # duplicates are dropped, order is kept
        {"order": b, "cancel": 1},
        {"order": a, "cancel": 1},
    ]
    assert world.balance() == START
    assert world.panel.ledger_mismatches() == []


def test_refusals_raise_exception_with_the_panels_message(client: smmpy.smm, world: World) -> None:
    stranger = smmpy.smm(world.panel.api_url, "k" * 40)
    with pytest.raises(Exception, match=r"^Invalid API key$"):
        stranger.get_balance()
    with pytest.raises(Exception, match=r"^Invalid API key$"):
        stranger.add_order(world.default, "https://y.test/", 100)
    cases = [
        (
            lambda: client.add_order(world.default, "https://y.test/", 100, runs=0, interval=10),
            "Incorrect runs: a whole number from 1 to 1000",
        ),
        (lambda: client.add_order(world.default, "https://y.test/", -100), "Incorrect quantity"),
        (lambda: client.add_order(world.default, "https://y.test/", 1.5), "Incorrect quantity"),
        (
            lambda: client.add_order(world.comments, "https://y.test/", 0, comments="\n\n"),
            "Comments are required for this service",
        ),
        (
            lambda: client.add_order(world.default, "https://y.test/", 10000, runs=6, interval=1),
            "Not enough funds on balance",
        ),
        (lambda: client.get_status("abc"), "Incorrect order ID"),
        (lambda: client.create_refill(0), "Incorrect order ID"),
        (lambda: client.get_refill_status(-1), "Refill not found"),
    ]
    for call, message in cases:
        with pytest.raises(Exception) as raised:
            call()
        assert str(raised.value) == message
    assert world.balance() == START and world.orders() == []
