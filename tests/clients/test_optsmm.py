"""``optsmm`` 1.0.1, unchanged, against a running panel.

``optsmm.optsmm.OptSMM(api_key)`` is async (aiohttp) and sends every action as a GET with
the key in the query string, unescaped (our keys are letters and digits, so that is safe).
Its endpoint is a hard-coded ``base_url`` attribute; the tests set it on the instance,
which is configuration, not a change to the library.

What it does with a spec-conforming panel, method by method:

- ``balance()`` returns ``(float(balance), currency)``: the exact decimal string is turned
  into a float by the client (our answer is exact; the client's rounding is its own).
- ``services()`` / ``search_services()`` work: service ids are JSON numbers, which its
  ``s["service"] == service`` lookup needs.
- ``create_order()`` first fetches services and the balance and checks them itself (with
  floats, ignoring drip-feed runs); when it thinks the balance is short it *returns* a
  dict ``{"error": "Недостаточно средств…"}`` without asking the panel. Otherwise it sends
  the order and returns the id as ``int``; a panel refusal raises ``Exception`` whose text
  ends with our message.
- ``order_status()`` works; a refusal raises ``Exception`` ending with our message.
- INCOMPATIBLE: ``order_cancel()`` expects ``{"status": "success"}``, an answer of its own
  panel only. The spec's cancel answers a list (``[{"order": 9, "cancel": 1}]``), so the
  client calls ``.get`` on a list and raises ``AttributeError`` - *after* the panel has
  canceled and refunded the order. We do not bend the server: the test below pins the
  exact behaviour (the cancel happens, the client raises). Only when the whole request is
  refused (a bad key) does the answer stay an object, and then the client raises its own
  ``Exception`` with our message.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from decimal import Decimal
from typing import TypeVar

import pytest
from optsmm.optsmm import OptSMM

from tests.clients.world import START, World, make_world
from tests.support.panel import Panel

T = TypeVar("T")


def run(awaitable: Awaitable[T]) -> T:
    async def main() -> T:
        return await awaitable

    return asyncio.run(main())


@pytest.fixture
def world(panel: Panel) -> World:
    return make_world(panel)


@pytest.fixture
def client(world: World) -> OptSMM:
    client = OptSMM(world.key)
    client.base_url = world.panel.api_url  # configuration: the library hard-codes its panel
    return client


def test_balance_is_a_float_and_a_currency(client: OptSMM, world: World) -> None:
    assert run(client.balance()) == (50.0, "USD")
    client.api_key = world.panel.customer(balance="0.12345").key
    assert run(client.balance()) == (0.12345, "USD")


def test_services_and_search(client: OptSMM, world: World) -> None:
    services = run(client.services())
    assert world.default in [s["service"] for s in services]
    found = run(client.search_services("auto LIKES"))
    assert [s["service"] for s in found if s["service"] == world.subscription] == [
        world.subscription
    ]


def test_create_order_and_status_over_get(client: OptSMM, world: World) -> None:
    order_id = run(client.create_order(world.default, "https://o.test/p?a=1&b=2", 1234))
    assert isinstance(order_id, int)
    order = world.order(order_id)
    assert (order.link, order.quantity, order.charge) == (
        "https://o.test/p?a=1&b=2",
        1234,
        Decimal("1.1106"),
    )
    assert world.balance() == START - Decimal("1.1106")
    assert run(client.order_status(order_id)) == {
        "charge": "1.1106",
        "start_count": "0",
        "status": "Pending",
        "remains": "1234",
        "currency": "USD",
    }
    world.panel.set_order(order_id, status="COMPLETED", start_count=9)
    assert run(client.order_status(order_id))["status"] == "Completed"


def test_create_order_passes_type_fields_as_query_parameters(client: OptSMM, world: World) -> None:
    drip = run(client.create_order(world.default, "https://o.test/d", 100, runs=4, interval=10))
    assert (world.order(drip).units, world.order(drip).charge) == (400, Decimal("0.36"))
    mention = run(
        client.create_order(world.mentions, "https://o.test/m", 20, usernames="a\nb", hashtags="#x")
    )
    assert world.order(mention).fields["usernames"] == "a\nb"
    assert world.balance() == START - Decimal("0.36") - Decimal("0.04")


def test_refusals_raise_with_the_panels_message(client: OptSMM, world: World) -> None:
    with pytest.raises(Exception, match=r"Incorrect order ID$"):
        run(client.order_status(987654))
    # The client checks the balance for quantity only; the panel charges quantity × runs.
    with pytest.raises(Exception, match=r": Not enough funds on balance$"):
        run(client.create_order(world.default, "https://o.test/", 10000, runs=10, interval=5))
    with pytest.raises(Exception, match=r": Incorrect link$"):
        run(client.create_order(world.default, "data:text/html,x", 100))
    stranger = OptSMM("Z" * 40)
    stranger.base_url = world.panel.api_url
    for call in (stranger.balance, stranger.services, lambda: stranger.order_status(1)):
        with pytest.raises(Exception, match=r": Invalid API key$"):
            run(call())
    with pytest.raises(Exception, match=r": Invalid API key$"):  # create_order lists services first
        run(stranger.create_order(world.default, "https://o.test/", 100))
    assert world.balance() == START and world.orders() == []


def test_client_side_checks_never_reach_the_panel(client: OptSMM, world: World) -> None:
    client.api_key = world.panel.customer(balance="0.01").key
    # 0.90 × 100 / 1000 = 0.09 > 0.01: the client answers by itself, in Russian, as a dict.
    answer = run(client.create_order(world.default, "https://o.test/", 100))
    assert answer == {"error": "Недостаточно средств. Нужно 0.09, на балансе 0.01"}
    with pytest.raises(Exception, match="Сервис не найден"):
        run(client.create_order(987654, "https://o.test/", 100))
    assert world.orders() == []


def test_order_cancel_is_incompatible_with_the_spec_answer(client: OptSMM, world: World) -> None:
    """The documented incompatibility: the panel cancels and refunds; the client crashes
    reading the spec's list answer as if it were ``{"status": "success"}``."""
    order_id = run(client.create_order(world.default, "https://o.test/c", 1000))
    assert world.balance() == START - Decimal("0.90")
    with pytest.raises(AttributeError, match="'list' object has no attribute 'get'"):
        run(client.order_cancel(order_id))
    assert world.order(order_id).status == "Canceled"
    assert world.balance() == START
    # What the panel answered, seen with the same GET: the spec's list.
    answer = world.panel.http.get(
        world.panel.api_url, params={"action": "cancel", "order": order_id, "key": world.key}
    ).json()
    assert answer == [{"order": order_id, "cancel": {"error": "The order is already canceled"}}]
    # A refusal of the whole request stays an object: then the client raises its own error.
    stranger = OptSMM("Q" * 40)
    stranger.base_url = world.panel.api_url
    with pytest.raises(Exception, match=r"^Не получилось отменить заказ: Invalid API key$"):
        run(stranger.order_cancel(order_id))
    assert world.panel.ledger_mismatches() == []
