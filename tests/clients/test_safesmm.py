"""``safesmm`` 0.1.0, unchanged, against a running panel.

A dependency-free client: ``urllib`` POSTs form-urlencoded data, drops ``None``
parameters, and raises ``SafeSMMError`` whenever a JSON object has an ``error`` key (which is
why the spec forbids ``"error": null`` on success). On an HTTP error status it still reads
the body, so our HTTP 200 errors are what it expects. It offers balance, services, add
(with any extra type fields: drip-feed, comments), status, multi-status, refill and cancel;
it has no refill_status and no multi-refill method, so those cannot be exercised through it.
No incompatibility with a spec-conforming panel.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
import safesmm

from tests.clients.world import START, World, make_world, service_row
from tests.support.panel import Panel


@pytest.fixture
def world(panel: Panel) -> World:
    return make_world(panel)


@pytest.fixture
def client(world: World) -> safesmm.SafeSMM:
    return safesmm.SafeSMM(world.key, api_url=world.panel.api_url)


def test_balance_and_services(client: safesmm.SafeSMM, world: World) -> None:
    assert client.balance() == {"balance": "50.00", "currency": "USD"}
    services = client.services()
    assert service_row(services, world.default)["rate"] == "0.90"
    assert service_row(services, world.comments)["type"] == "Custom Comments"
    assert service_row(services, world.no_cancel)["cancel"] is False


def test_add_status_and_multi_status_follow_the_staff(
    client: safesmm.SafeSMM, world: World
) -> None:
    first = client.add_order(world.default, "https://s.test/1", 2000)["order"]
    second = client.add_order(world.default, "https://s.test/2", 10)["order"]
    assert world.order(first).charge == Decimal("1.80")
    assert world.order(second).charge == Decimal("0.009")
    assert world.balance() == START - Decimal("1.809")
    assert client.balance()["balance"] == "48.191"
    assert client.status(first)["status"] == "Pending"
    world.panel.set_order(first, status="in_progress", start_count=77)
    world.panel.set_order(second, status="Canceled")
    assert client.status(first) == {
        "charge": "1.80",
        "start_count": "77",
        "status": "In progress",
        "remains": "2000",
        "currency": "USD",
    }
    answer = client.multi_status([first, second, 987654])
    assert answer[str(first)]["status"] == "In progress"
    assert answer[str(second)] == {
        "charge": "0.00",
        "start_count": "0",
        "status": "Canceled",
        "remains": "10",
        "currency": "USD",
    }
    assert answer["987654"] == {"error": "Incorrect order ID"}
    assert world.balance() == START - Decimal("1.80")


def test_extra_fields_drip_feed_and_comments(client: safesmm.SafeSMM, world: World) -> None:
    drip = client.add_order(world.default, "https://s.test/drip", 50, runs=3, interval=15)["order"]
    order = world.order(drip)
    assert (order.runs, order.interval, order.units, order.charge) == (3, 15, 150, Decimal("0.135"))
    # quantity omitted (None is not sent): the comments are counted.
    comments = client.add_order(world.comments, "https://s.test/c", comments="one\ntwo")["order"]
    assert world.order(comments).units == 2
    assert world.order(comments).charge == Decimal("0.02469")  # 2 × 12.34567 / 1000, half-up
    assert world.balance() == START - Decimal("0.135") - Decimal("0.02469")


def test_refill(client: safesmm.SafeSMM, world: World) -> None:
    order_id = client.add_order(world.default, "https://s.test/r", 100)["order"]
    with pytest.raises(
        safesmm.SafeSMMError, match=r"^Refill is available only for completed or partial orders$"
    ):
        client.refill(order_id)
    world.panel.set_order(order_id, status="Completed")
    refill = client.refill(order_id)
    assert [r.id for r in world.refills()] == [int(refill["refill"])]
    with pytest.raises(
        safesmm.SafeSMMError, match=r"^A refill for this order is already in progress$"
    ):
        client.refill(order_id)


def test_cancel_one_and_many(client: safesmm.SafeSMM, world: World) -> None:
    first = client.add_order(world.default, "https://s.test/x1", 1000)["order"]
    second = client.add_order(world.comments, "https://s.test/x2", comments="a\nb\nc")["order"]
    assert client.cancel(first) == [{"order": first, "cancel": 1}]  # a single id, as a list
    assert client.cancel([second, first, 987654]) == [
        {"order": second, "cancel": 1},
        {"order": first, "cancel": {"error": "The order is already canceled"}},
        {"order": 987654, "cancel": {"error": "Incorrect order ID"}},
    ]
    assert world.balance() == START
    assert [o.status for o in world.orders()] == ["Canceled", "Canceled"]
    assert world.panel.ledger_mismatches() == []


def test_refusals_raise_safesmm_error_with_the_panels_message(
    client: safesmm.SafeSMM, world: World
) -> None:
    stranger = safesmm.SafeSMM("A" * 40, api_url=world.panel.api_url)
    for call in (stranger.balance, stranger.services, lambda: stranger.cancel([1])):
        with pytest.raises(safesmm.SafeSMMError, match=r"^Invalid API key$"):
            call()
    cases = [
        (lambda: client.add_order("abc", "https://x.test/", 100), "Incorrect service ID"),
        (lambda: client.add_order(world.default, "javascript:alert(1)", 100), "Incorrect link"),
        (lambda: client.add_order(world.default, "https://x.test/", None), "Incorrect quantity"),
        (
            lambda: client.add_order(world.default, "https://x.test/", 9),
            "Quantity less than minimal 10",
        ),
        (
            lambda: client.add_order(world.no_cancel, "https://x.test/", 100, runs=2, interval=5),
            "Drip-feed is not available for this service",
        ),
        (lambda: client.status(987654), "Incorrect order ID"),
        (lambda: client.status("1 OR 1=1"), "Incorrect order ID"),
        (lambda: client.refill(987654), "Incorrect order ID"),
    ]
    for call, message in cases:
        with pytest.raises(safesmm.SafeSMMError) as raised:
            call()
        assert str(raised.value) == message
    with pytest.raises(ValueError, match="api_key is required"):  # the client's own check
        safesmm.SafeSMM("", api_url=world.panel.api_url)
    assert world.balance() == START and world.orders() == []
