"""Every action of spec §2 and the exact shape and JSON types of each answer."""

from __future__ import annotations

from decimal import Decimal

from tests.api.helpers import LINK, place
from tests.support.panel import Panel


def test_services_lists_enabled_services_with_seed_types(panel: Panel) -> None:
    customer = panel.customer()
    shown = panel.service(
        name="Followers [seed]",
        category="First Category",
        rate="0.90",
        min_quantity=50,
        max_quantity=10_000,
        refill=True,
        cancel=True,
        description="Real followers",
    )
    plain = panel.service(name="Likes", category="Second", rate="12.5", type="Package")
    hidden = panel.service(name="Hidden", enabled=False)
    listed = panel.api(customer.key, "services")
    assert isinstance(listed, list)
    by_id = {item["service"]: item for item in listed}
    assert hidden not in by_id
    assert by_id[shown] == {
        "service": shown,
        "name": "Followers [seed]",
        "type": "Default",
        "category": "First Category",
        "rate": "0.90",
        "min": "50",
        "max": "10000",
        "refill": True,
        "cancel": True,
        "dripfeed": False,
        "desc": "Real followers",
    }
    second = by_id[plain]
    assert (second["type"], second["rate"], second["refill"], second["cancel"]) == (
        "Package",
        "12.50",
        False,
        False,
    )
    for item in listed:
        assert type(item["service"]) is int
        assert all(isinstance(item[k], str) for k in ("name", "type", "category", "rate"))
        assert all(isinstance(item[k], str) for k in ("min", "max"))
        assert all(type(item[k]) is bool for k in ("refill", "cancel"))
        assert "error" not in item


def test_add_answers_the_new_order_id_as_a_number(panel: Panel) -> None:
    customer = panel.customer(balance="10")
    service = panel.service()
    first = panel.api(customer.key, "add", service=service, link=LINK, quantity=100)
    second = panel.api(customer.key, "add", service=service, link=LINK, quantity=100)
    assert set(first) == {"order"} and type(first["order"]) is int
    assert second["order"] > first["order"]


def test_status_of_one_order(panel: Panel) -> None:
    customer = panel.customer(balance="10")
    service = panel.service(rate="0.90")
    order = place(panel, customer, service, quantity=100)
    assert panel.api(customer.key, "status", order=order) == {
        "charge": "0.09",
        "start_count": "0",
        "status": "Pending",
        "remains": "100",
        "currency": "USD",
    }
    panel.set_order(order, status="In progress", start_count=3572)
    panel.set_order(order, status="Partial", remains=40)
    assert panel.api(customer.key, "status", order=order) == {
        "charge": "0.054",  # 0.09 less the refund of 40/100 of it
        "start_count": "3572",
        "status": "Partial",
        "remains": "40",
        "currency": "USD",
    }


def test_status_of_many_orders_is_an_object_keyed_by_id_strings(panel: Panel) -> None:
    customer = panel.customer(balance="10")
    other = panel.customer(balance="10")
    service = panel.service(rate="1")
    first = place(panel, customer, service, quantity=100)
    second = place(panel, customer, service, quantity=200)
    foreign = place(panel, other, service, quantity=100)
    answer = panel.api(customer.key, "status", orders=f"{second},999999999,{first},{foreign}")
    assert list(answer) == [str(second), "999999999", str(first), str(foreign)]
    assert answer[str(first)] == {
        "charge": "0.10",
        "start_count": "0",
        "status": "Pending",
        "remains": "100",
        "currency": "USD",
    }
    assert answer[str(second)]["charge"] == "0.20"
    assert answer["999999999"] == {"error": "Incorrect order ID"}
    assert answer[str(foreign)] == {"error": "Incorrect order ID"}


def test_status_with_one_id_in_orders_is_still_the_keyed_object(panel: Panel) -> None:
    customer = panel.customer(balance="1")
    order = place(panel, customer, panel.service(), quantity=10)
    answer = panel.api(customer.key, "status", orders=str(order))
    assert list(answer) == [str(order)]
    assert answer[str(order)]["status"] == "Pending"


def test_refill_of_one_order_answers_the_refill_id_as_a_string(panel: Panel) -> None:
    customer = panel.customer(balance="10")
    service = panel.service(refill=True)
    order = place(panel, customer, service, quantity=100)
    panel.set_order(order, status="Completed")
    answer = panel.api(customer.key, "refill", order=order)
    assert set(answer) == {"refill"}
    assert isinstance(answer["refill"], str) and answer["refill"].isdigit()
    refill = int(answer["refill"])
    assert panel.api(customer.key, "refill_status", refill=refill) == {"status": "Pending"}


def test_refill_of_many_orders_is_a_list_with_numbers_and_errors(panel: Panel) -> None:
    customer = panel.customer(balance="10")
    service = panel.service(refill=True)
    done = [place(panel, customer, service, quantity=100) for _ in range(2)]
    for order in done:
        panel.set_order(order, status="Completed")
    answer = panel.api(customer.key, "refill", orders=f"{done[0]},424242424,{done[1]}")
    assert [item["order"] for item in answer] == [done[0], 424242424, done[1]]
    assert answer[1] == {"order": 424242424, "refill": {"error": "Incorrect order ID"}}
    refills = [answer[0]["refill"], answer[2]["refill"]]
    assert all(type(r) is int for r in refills)
    assert refills[0] != refills[1]
    statuses = panel.api(customer.key, "refill_status", refills=f"{refills[1]},{refills[0]}")
    assert statuses == [
        {"refill": refills[1], "status": "Pending"},
        {"refill": refills[0], "status": "Pending"},
    ]


def test_refill_status_of_many_keeps_order_and_reports_unknown_ids(panel: Panel) -> None:
    customer = panel.customer(balance="10")
    service = panel.service(refill=True)
    order = place(panel, customer, service, quantity=100)
    panel.set_order(order, status="Completed")
    refill = int(panel.api(customer.key, "refill", order=order)["refill"])
    panel.set_refill(refill, "Completed")
    assert panel.api(customer.key, "refill_status", refill=refill) == {"status": "Completed"}
    assert panel.api(customer.key, "refill_status", refills=f"777777777,{refill}") == [
        {"refill": 777777777, "status": {"error": "Refill not found"}},
        {"refill": refill, "status": "Completed"},
    ]


def test_cancel_answers_a_list_for_orders_and_for_the_order_alias(panel: Panel) -> None:
    customer = panel.customer(balance="10")
    service = panel.service(cancel=True, rate="2")
    first, second, third = (place(panel, customer, service, quantity=100) for _ in range(3))
    assert panel.api(customer.key, "cancel", orders=f"9999999,{first},{second}") == [
        {"order": 9999999, "cancel": {"error": "Incorrect order ID"}},
        {"order": first, "cancel": 1},
        {"order": second, "cancel": 1},
    ]
    # a single id is a list of one, under ``orders`` or its alias ``order``
    assert panel.api(customer.key, "cancel", order=third) == [{"order": third, "cancel": 1}]
    assert panel.api(customer.key, "status", order=first)["status"] == "Canceled"
    assert panel.balance(customer) == Decimal("10")


def test_balance(panel: Panel) -> None:
    customer = panel.customer(balance="100.84292")
    assert panel.api(customer.key, "balance") == {"balance": "100.84292", "currency": "USD"}
    empty = panel.customer()
    assert panel.api(empty.key, "balance") == {"balance": "0.00", "currency": "USD"}


def test_a_customers_discount_shows_in_the_rate_and_the_charge(panel: Panel) -> None:
    from opensmm.accounts.models import User

    customer = panel.customer(balance="10")
    with panel.write() as session:
        user = session.get(User, customer.id)
        assert user is not None
        user.discount_percent = Decimal("10")
    service = panel.service(rate="0.90")
    listed = {s["service"]: s for s in panel.api(customer.key, "services")}
    assert listed[service]["rate"] == "0.81"
    order = place(panel, customer, service, quantity=1000)
    assert panel.api(customer.key, "status", order=order)["charge"] == "0.81"
    assert panel.balance(customer) == Decimal("9.19")
    assert panel.ledger_mismatches() == []
