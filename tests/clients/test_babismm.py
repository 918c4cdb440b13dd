"""``babismm`` 1.0.1 (imports as ``smm``), unchanged, against a running panel.

The client POSTs form-urlencoded data with ``requests`` (a Chrome User-Agent), turns
booleans into ``1``/``0``, drops ``None`` parameters, and raises ``SMMAPIError`` when a JSON
*object* carries a truthy ``error``; lists (multi-refill, cancel, multi refill status) are
returned as they are, refusals inside them included. It offers every action of the spec,
including the subscription fields of ``add``. It works with a spec-conforming panel
without any incompatibility.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
import smm

from tests.clients.world import START, World, make_world, service_row
from tests.support.panel import Panel


@pytest.fixture
def world(panel: Panel) -> World:
    return make_world(panel)


@pytest.fixture
def client(world: World) -> Iterator[smm.SMM]:
    with smm.SMM(world.panel.api_url, world.key) as client:
        yield client


def test_services_lists_the_catalog(client: smm.SMM, world: World) -> None:
    services = client.get_services()
    row = service_row(services, world.default)
    assert {
        k: row[k] for k in ("service", "name", "type", "rate", "min", "max", "refill", "cancel")
    } == {
        "service": world.default,
        "name": "Followers",
        "type": "Default",
        "rate": "0.90",
        "min": "10",
        "max": "10000",
        "refill": True,
        "cancel": True,
    }
    assert service_row(services, world.subscription)["type"] == "Subscriptions"
    assert service_row(services, world.comments)["rate"] == "12.34567"


def test_add_charges_exactly_and_status_follows_the_staff(client: smm.SMM, world: World) -> None:
    placed = client.add_order(world.default, link="https://insta.test/p/1", quantity=150)
    order_id = placed["order"]
    assert placed == {"order": order_id} and isinstance(order_id, int)
    order = world.order(order_id)
    assert (order.link, order.quantity, order.units, order.charge) == (
        "https://insta.test/p/1",
        150,
        150,
        Decimal("0.135"),
    )
    assert world.balance() == START - Decimal("0.135")
    assert client.get_balance() == {"balance": "49.865", "currency": "USD"}
    assert client.get_status(order_id) == {
        "charge": "0.135",
        "start_count": "0",
        "status": "Pending",
        "remains": "150",
        "currency": "USD",
    }
    world.panel.set_order(order_id, status="In progress", start_count=4321)
    assert client.get_status(order_id)["status"] == "In progress"
    assert client.get_status(str(order_id))["start_count"] == "4321"
    world.panel.set_order(order_id, status="Partial", remains=50)
    # 50 of 150 undelivered: 0.045 back; the status shows what the customer paid in the end.
    assert client.get_status(order_id) == {
        "charge": "0.09",
        "start_count": "4321",
        "status": "Partial",
        "remains": "50",
        "currency": "USD",
    }
    assert world.balance() == START - Decimal("0.09")
    assert world.panel.ledger_mismatches() == []


def test_multi_status_answers_each_id(client: smm.SMM, world: World) -> None:
    first = client.add_order(world.default, link="https://a.test/1", quantity=1000)["order"]
    second = client.add_order(world.default, link="https://a.test/2", quantity=1000)["order"]
    world.panel.set_order(second, status="Completed")
    stranger = world.other_customers_order()
    answer = client.get_multi_status([first, second, 987654, stranger])
    assert answer == {
        str(first): {
            "charge": "0.90",
            "start_count": "0",
            "status": "Pending",
            "remains": "1000",
            "currency": "USD",
        },
        str(second): {
            "charge": "0.90",
            "start_count": "0",
            "status": "Completed",
            "remains": "0",
            "currency": "USD",
        },
        "987654": {"error": "Incorrect order ID"},
        str(stranger): {"error": "Incorrect order ID"},
    }


def test_drip_feed_order_charges_quantity_times_runs(client: smm.SMM, world: World) -> None:
    order_id = client.add_order(
        world.default, link="https://drip.test/", quantity=100, runs=5, interval=30
    )["order"]
    order = world.order(order_id)
    assert (order.quantity, order.runs, order.interval, order.units) == (100, 5, 30, 500)
    assert order.charge == Decimal("0.45")
    assert world.balance() == START - Decimal("0.45")


def test_custom_comments_are_counted_and_charged(client: smm.SMM, world: World) -> None:
    order_id = client.add_order(
        world.comments, link="https://c.test/p", comments="nice\nwow 😀\n\nمرحبا"
    )["order"]
    order = world.order(order_id)
    assert order.units == 3 and order.fields["comments"] == "nice\nwow 😀\n\nمرحبا"
    # 3 × 12.34567 / 1000 = 0.03703701, half-up to five places.
    assert order.charge == Decimal("0.03704")
    assert client.get_status(order_id)["charge"] == "0.03704"
    with pytest.raises(smm.SMMAPIError, match=r"^Quantity must equal the number of lines \(2\)$"):
        client.add_order(world.comments, link="https://c.test/p", quantity=5, comments="a\nb")


def test_subscription_fields_are_sent_and_nothing_charged_up_front(
    client: smm.SMM, world: World
) -> None:
    order_id = client.add_order(
        world.subscription,
        username="someone",
        min=100,
        max=200,
        posts=5,
        delay=30,
        expiry="31/12/2099",
    )["order"]
    order = world.order(order_id)
    assert order.fields["username"] == "someone"
    assert (order.fields["min"], order.fields["max"], order.fields["posts"]) == (100, 200, 5)
    assert (order.fields["delay"], order.fields["expiry"]) == (30, "31/12/2099")
    # Charged as it runs (spec §3): each post when it is made, nothing now.
    assert order.units == 5 and order.charge == 0
    assert world.balance() == START
    with pytest.raises(smm.SMMAPIError, match=r"^Incorrect delay: one of 0, 5, "):
        client.add_order(world.subscription, username="x", min=10, max=20, posts=1, delay=7)


def test_extra_type_fields_travel_through_kwargs(client: smm.SMM, world: World) -> None:
    order_id = client.add_order(
        world.mentions,
        link="https://m.test/p",
        quantity=50,
        usernames="alice\nbob",
        hashtags="#one #two",
    )["order"]
    order = world.order(order_id)
    assert order.fields["usernames"] == "alice\nbob" and order.fields["hashtags"] == "#one #two"
    assert order.charge == Decimal("0.10")


def test_refill_and_refill_status_single_and_multi(client: smm.SMM, world: World) -> None:
    done = client.add_order(world.default, link="https://r.test/1", quantity=100)["order"]
    partial = client.add_order(world.default, link="https://r.test/2", quantity=100)["order"]
    pending = client.add_order(world.default, link="https://r.test/3", quantity=100)["order"]
    world.panel.set_order(done, status="Completed")
    world.panel.set_order(partial, status="Partial", remains=10)

    single = client.create_refill(done)
    assert single == {"refill": single["refill"]} and isinstance(single["refill"], str)
    refill_id = int(single["refill"])
    assert [(r.id, r.order_id, r.status) for r in world.refills()] == [(refill_id, done, "Pending")]
    assert client.get_refill_status(refill_id) == {"status": "Pending"}
    world.panel.set_refill(refill_id, "In progress")
    assert client.get_refill_status(refill_id) == {"status": "In progress"}

    many = client.create_multi_refill([partial, pending, 987654, done])
    assert many[0]["order"] == partial and isinstance(many[0]["refill"], int)
    assert many[1:] == [
        {
            "order": pending,
            "refill": {"error": "Refill is available only for completed or partial orders"},
        },
        {"order": 987654, "refill": {"error": "Incorrect order ID"}},
        {"order": done, "refill": {"error": "A refill for this order is already in progress"}},
    ]
    second_refill = many[0]["refill"]
    world.panel.set_refill(refill_id, "Completed")
    world.panel.set_refill(second_refill, "Rejected")
    assert client.get_multi_refill_status([refill_id, second_refill, 424242]) == [
        {"refill": refill_id, "status": "Completed"},
        {"refill": second_refill, "status": "Rejected"},
        {"refill": 424242, "status": {"error": "Refill not found"}},
    ]
    assert world.balance() == START - 3 * Decimal("0.09") + Decimal("0.009")  # refills are free


def test_cancel_refunds_and_reports_each_id(client: smm.SMM, world: World) -> None:
    first = client.add_order(world.default, link="https://x.test/1", quantity=1000)["order"]
    started = client.add_order(world.default, link="https://x.test/2", quantity=1000)["order"]
    fixed = client.add_order(world.no_cancel, link="https://x.test/3", quantity=100)["order"]
    world.panel.set_order(started, status="In progress")
    assert world.balance() == START - Decimal("2.10")
    answer = client.cancel_orders([first, started, fixed, 987654])
    assert answer == [
        {"order": first, "cancel": 1},
        {
            "order": started,
            "cancel": {"error": "The order has already started and can no longer be canceled"},
        },
        {"order": fixed, "cancel": {"error": "Cancel is not available for this service"}},
        {"order": 987654, "cancel": {"error": "Incorrect order ID"}},
    ]
    assert world.order(first).status == "Canceled"
    assert world.balance() == START - Decimal("1.20")
    # A replay refunds nothing more.
    assert client.cancel_orders([first]) == [
        {"order": first, "cancel": {"error": "The order is already canceled"}}
    ]
    assert world.balance() == START - Decimal("1.20")
    assert world.panel.ledger_mismatches() == []


def test_refusals_raise_smm_api_error_with_the_panels_message(
    client: smm.SMM, world: World
) -> None:
    with smm.SMM(world.panel.api_url, "x" * 40) as stranger:
        for call in (stranger.get_balance, stranger.get_services, lambda: stranger.get_status(1)):
            with pytest.raises(smm.SMMAPIError, match=r"^Invalid API key$"):
                call()
        with pytest.raises(smm.SMMAPIError, match=r"^Invalid API key$"):
            stranger.add_order(world.default, link="https://x.test/", quantity=100)
    cases = [
        (
            lambda: client.add_order(987654, link="https://x.test/", quantity=100),
            "Incorrect service ID",
        ),
        (lambda: client.add_order(world.default, link="", quantity=100), "Incorrect link"),
        (
            lambda: client.add_order(world.default, link="https://x.test/", quantity=5),
            "Quantity less than minimal 10",
        ),
        (
            lambda: client.add_order(world.default, link="https://x.test/", quantity=10001),
            "Quantity more than maximal 10000",
        ),
        (
            lambda: client.add_order(
                world.default, link="https://x.test/", quantity=10000, runs=100, interval=5
            ),
            "Not enough funds on balance",
        ),
        (lambda: client.get_status(987654), "Incorrect order ID"),
        (lambda: client.get_status(world.other_customers_order()), "Incorrect order ID"),
        (lambda: client.create_refill(987654), "Incorrect order ID"),
        (lambda: client.get_refill_status(987654), "Refill not found"),
    ]
    orders_before = len(world.orders())
    for call, message in cases:
        with pytest.raises(smm.SMMAPIError) as raised:
            call()
        assert str(raised.value) == message
    assert world.balance() == START
    assert len(world.orders()) == orders_before
    assert world.panel.ledger_mismatches() == []


def test_repr_never_shows_the_key(world: World) -> None:
    client = smm.smm(world.panel.api_url + "/", world.key)  # the backward-compatible alias
    assert world.key not in repr(client)
    assert client.get_balance()["balance"] == "50.00"  # the trailing slash is stripped
    client.close()
