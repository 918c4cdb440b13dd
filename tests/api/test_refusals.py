"""Spec §6 and every other refusal: the exact message, and nothing written.

Each refused request is made inside ``nothing_written`` (through ``refusal``): the
customer's balance, orders, order events, refills and ledger entries are unchanged and
the whole ledger still adds up.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from opensmm.accounts import service as accounts
from opensmm.db import utcnow
from tests.api.helpers import (
    LINK,
    execute_sql,
    footprint,
    form,
    nothing_written,
    place,
    refusal,
)
from tests.support.panel import Customer, Panel

ALL_ACTIONS = {
    "services": {},
    "add": {"service": "1", "link": LINK, "quantity": "100"},
    "status": {"order": "1"},
    "refill": {"order": "1"},
    "refill_status": {"refill": "1"},
    "cancel": {"orders": "1"},
    "balance": {},
}


# Past a 32-bit id column (PostgreSQL's INTEGER), past 64 bits, and absurd.
BIG_IDS = ("2147483648", "5000000000", "9223372036854775808", "9" * 30)


@pytest.fixture
def customer(panel: Panel) -> Customer:
    return panel.customer(balance="50")


# --- the key and the request -------------------------------------------------------------


NOT_KEYS = [None, "", "x" * 40, "A" * 40, "short", "has-dash-" + "a" * 40, "a" * 300, "é" * 40]


@pytest.mark.parametrize("action", sorted(ALL_ACTIONS))
def test_invalid_api_key(panel: Panel, customer: Customer, action: str) -> None:
    """Missing, empty, unknown, too short, not letters and digits, too long, not ASCII."""
    with nothing_written(panel, customer):
        for key in NOT_KEYS:
            answer = panel.api(key, action, **ALL_ACTIONS[action])
            assert answer == {"error": "Invalid API key"}, key


def test_invalid_key_comes_before_a_bad_action_or_id_list(panel: Panel) -> None:
    assert panel.api("nope", None) == {"error": "Invalid API key"}
    assert panel.api("x" * 40, "unknown") == {"error": "Invalid API key"}
    assert panel.api("x" * 40, "status", orders=" , ") == {"error": "Invalid API key"}
    too_many = ",".join(str(i) for i in range(1, 102))
    assert panel.api("x" * 40, "cancel", orders=too_many) == {"error": "Invalid API key"}
    malformed = panel.http.post(
        panel.api_url, content=b'{"key": 1', headers={"Content-Type": "application/json"}
    )
    assert malformed.json() == {"error": "Incorrect request"}  # an unreadable body comes first


@pytest.mark.parametrize("action", [None, "", "Balance", "delete", "add_order", "status "])
def test_missing_or_unknown_action(panel: Panel, customer: Customer, action: str | None) -> None:
    with nothing_written(panel, customer):
        assert panel.api(customer.key, action) == {"error": "Incorrect request"}


def test_revoked_key_is_refused_on_the_very_next_request(panel: Panel, customer: Customer) -> None:
    assert panel.api(customer.key, "balance")["balance"] == "50.00"
    with panel.write() as session:
        accounts.revoke_key(session, customer.key)
    with nothing_written(panel, customer):
        for action, params in ALL_ACTIONS.items():
            assert panel.api(customer.key, action, **params) == {"error": "Invalid API key"}


def test_a_second_key_still_works_after_the_first_is_revoked(
    panel: Panel, customer: Customer
) -> None:
    with panel.write() as session:
        user = accounts.get_user(session, customer.name)
        second = accounts.create_key(session, user).key
        accounts.revoke_key(session, customer.key)
    assert panel.api(customer.key, "balance") == {"error": "Invalid API key"}
    assert panel.api(second, "balance")["balance"] == "50.00"


def test_suspended_account_is_refused_every_action_until_activated(
    panel: Panel, customer: Customer
) -> None:
    service = panel.service(cancel=True, refill=True)
    order = place(panel, customer, service, quantity=100)
    with panel.write() as session:
        accounts.set_status(session, customer.name, active=False)
    with nothing_written(panel, customer):
        for action, base in ALL_ACTIONS.items():
            params = {**base, "service": service, "order": order, "orders": order}
            assert panel.api(customer.key, action, **params) == {
                "error": "Your account is suspended"
            }
    with panel.write() as session:
        accounts.set_status(session, customer.name, active=True)
    assert panel.api(customer.key, "status", order=order)["status"] == "Pending"


# --- add ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "service", [None, "", "abc", "0", "-1", "1.5", "²", "١", "99999999", *BIG_IDS]
)
def test_incorrect_service_id(panel: Panel, customer: Customer, service: str | None) -> None:
    assert (
        refusal(panel, customer, "add", service=service, link=LINK, quantity=100)
        == "Incorrect service ID"
    )


def test_disabled_service_is_an_incorrect_service_id(panel: Panel, customer: Customer) -> None:
    disabled = panel.service(enabled=False)
    assert (
        refusal(panel, customer, "add", service=disabled, link=LINK, quantity=100)
        == "Incorrect service ID"
    )


@pytest.mark.parametrize(
    "link",
    [
        None,
        "",
        "   ",
        "https://x.test/a b",
        "javascript:alert(1)",
        "data:text/html,x",
        "ftp://host/file",
        "https://x.test/\x01",
        "h" * 3000,
    ],
)
def test_incorrect_link(panel: Panel, customer: Customer, link: str | None) -> None:
    service = panel.service()
    assert refusal(panel, customer, "add", service=service, link=link, quantity=100) == (
        "Incorrect link"
    )


@pytest.mark.parametrize(
    ("quantity", "message"),
    [
        ("49", "Quantity less than minimal 50"),
        ("0", "Quantity less than minimal 50"),
        ("10001", "Quantity more than maximal 10000"),
        ("999999999", "Quantity more than maximal 10000"),
        (None, "Incorrect quantity"),
        ("", "Incorrect quantity"),
        ("-5", "Incorrect quantity"),
        ("10.5", "Incorrect quantity"),
        ("ten", "Incorrect quantity"),
        ("1e3", "Incorrect quantity"),
        ("9" * 40, "Incorrect quantity"),
    ],
)
def test_quantity_bounds(
    panel: Panel, customer: Customer, quantity: str | None, message: str
) -> None:
    service = panel.service(min_quantity=50, max_quantity=10_000)
    assert refusal(panel, customer, "add", service=service, link=LINK, quantity=quantity) == message


def test_quantity_on_the_bounds_is_accepted(panel: Panel, customer: Customer) -> None:
    service = panel.service(min_quantity=50, max_quantity=10_000, rate="1")
    place(panel, customer, service, quantity=50)
    place(panel, customer, service, quantity=10_000)
    assert panel.balance(customer) == Decimal("39.95")


def test_not_enough_funds(panel: Panel) -> None:
    customer = panel.customer(balance="0.08999")
    service = panel.service(rate="0.90")
    assert (
        refusal(panel, customer, "add", service=service, link=LINK, quantity=100)
        == "Not enough funds on balance"
    )
    broke = panel.customer()
    assert (
        refusal(panel, broke, "add", service=service, link=LINK, quantity=100)
        == "Not enough funds on balance"
    )
    # exactly enough is enough
    exact = panel.customer(balance="0.09")
    place(panel, exact, service, quantity=100)
    assert panel.balance(exact) == 0


def test_active_order_with_the_same_link(panel: Panel, customer: Customer) -> None:
    service = panel.service(one_active_per_link=True)
    relaxed = panel.service()
    first = place(panel, customer, service, quantity=100)
    message = refusal(panel, customer, "add", service=service, link=LINK, quantity=100)
    assert message == (
        "You have active order with this link. Please wait until order being completed."
    )
    # another link, or a service that allows it, is fine
    place(panel, customer, service, quantity=100, link=LINK + "/other")
    place(panel, customer, relaxed, quantity=100)
    place(panel, customer, relaxed, quantity=100)
    panel.set_order(first, status="In progress")
    assert refusal(panel, customer, "add", service=service, link=LINK, quantity=100) == message
    panel.set_order(first, status="Completed")
    place(panel, customer, service, quantity=100)


def test_drip_feed_refusals(panel: Panel, customer: Customer) -> None:
    plain = panel.service()
    drip = panel.service(dripfeed=True)
    base = {"link": LINK, "quantity": 100}
    assert refusal(panel, customer, "add", service=plain, runs=2, interval=10, **base) == (
        "Drip-feed is not available for this service"
    )
    bad_runs = "Incorrect runs: a whole number from 1 to 1000"
    bad_interval = "Incorrect interval: whole minutes from 1 to 43200"
    for runs in ("0", "1001", "-1", "x", "2.5"):
        assert refusal(panel, customer, "add", service=drip, runs=runs, interval=10, **base) == (
            bad_runs
        )
    assert refusal(panel, customer, "add", service=drip, interval=10, **base) == bad_runs
    for interval in ("0", "43201", "x", ""):
        assert (
            refusal(panel, customer, "add", service=drip, runs=2, interval=interval, **base)
            == bad_interval
        )


# --- orders that are not yours, not found, or not in the right state ---------------------


@pytest.mark.parametrize("action", ["status", "refill"])
def test_unknown_and_foreign_orders_look_the_same(
    panel: Panel, customer: Customer, action: str
) -> None:
    owner = panel.customer(balance="10")
    service = panel.service(refill=True, cancel=True)
    foreign = place(panel, owner, service, quantity=100)
    panel.set_order(foreign, status="Completed")
    for order in ("99999999", str(foreign), "abc", "", "-1", "0", *BIG_IDS):
        with nothing_written(panel, customer, owner):
            assert panel.api(customer.key, action, order=order) == {"error": "Incorrect order ID"}


def test_cancel_of_unknown_and_foreign_orders(panel: Panel, customer: Customer) -> None:
    owner = panel.customer(balance="10")
    service = panel.service(cancel=True)
    foreign = place(panel, owner, service, quantity=100)
    with nothing_written(panel, customer, owner):
        assert panel.api(customer.key, "cancel", orders=f"{foreign},88888888,abc") == [
            {"order": foreign, "cancel": {"error": "Incorrect order ID"}},
            {"order": 88888888, "cancel": {"error": "Incorrect order ID"}},
            {"order": "abc", "cancel": {"error": "Incorrect order ID"}},
        ]
        answer = panel.api(customer.key, "cancel", orders=",".join(BIG_IDS))
        assert [item["cancel"] for item in answer] == [{"error": "Incorrect order ID"}] * 4
    assert panel.api(owner.key, "status", order=foreign)["status"] == "Pending"


def test_ids_past_any_column_are_not_found_in_every_list(panel: Panel, customer: Customer) -> None:
    ids = ",".join(BIG_IDS)
    with nothing_written(panel, customer):
        statuses = panel.api(customer.key, "status", orders=ids)
        refills = panel.api(customer.key, "refill", orders=ids)
        refill_statuses = panel.api(customer.key, "refill_status", refills=ids)
    assert statuses == {big: {"error": "Incorrect order ID"} for big in BIG_IDS}
    assert [item["refill"] for item in refills] == [{"error": "Incorrect order ID"}] * 4
    assert [item["status"] for item in refill_statuses] == [{"error": "Refill not found"}] * 4


def test_refill_status_of_unknown_and_foreign_refills(panel: Panel, customer: Customer) -> None:
    owner = panel.customer(balance="10")
    service = panel.service(refill=True)
    order = place(panel, owner, service, quantity=100)
    panel.set_order(order, status="Completed")
    refill = int(panel.api(owner.key, "refill", order=order)["refill"])
    for raw in (str(refill), "55555555", "x", "", *BIG_IDS):
        assert panel.api(customer.key, "refill_status", refill=raw) == {"error": "Refill not found"}
    assert panel.api(customer.key, "refill_status", refills=f"{refill},55555555") == [
        {"refill": refill, "status": {"error": "Refill not found"}},
        {"refill": 55555555, "status": {"error": "Refill not found"}},
    ]


@pytest.mark.parametrize("action", ["status", "refill", "refill_status", "cancel"])
def test_empty_id_lists_are_incorrect_requests(
    panel: Panel, customer: Customer, action: str
) -> None:
    name = "refills" if action == "refill_status" else "orders"
    for value in ("", ",", " , ,"):
        assert refusal(panel, customer, action, **{name: value}) == "Incorrect request"


def test_cancel_refusals(panel: Panel, customer: Customer) -> None:
    no_cancel = panel.service(cancel=False)
    service = panel.service(cancel=True)
    fixed = place(panel, customer, no_cancel, quantity=100)
    started = place(panel, customer, service, quantity=100)
    panel.set_order(started, status="In progress")
    done = place(panel, customer, service, quantity=100)
    panel.set_order(done, status="Completed")
    canceled = place(panel, customer, service, quantity=100)
    panel.set_order(canceled, status="Canceled")
    with nothing_written(panel, customer):
        answer = panel.api(customer.key, "cancel", orders=f"{fixed},{started},{done},{canceled}")
    assert answer == [
        {"order": fixed, "cancel": {"error": "Cancel is not available for this service"}},
        {
            "order": started,
            "cancel": {"error": "The order has already started and can no longer be canceled"},
        },
        {
            "order": done,
            "cancel": {"error": "The order has already started and can no longer be canceled"},
        },
        {"order": canceled, "cancel": {"error": "The order is already canceled"}},
    ]


def test_cancel_of_orders_already_sent_upstream(panel: Panel, customer: Customer) -> None:
    """An order at a provider is not refunded by ``cancel``: the cancel is forwarded once."""
    service = panel.service(cancel=True)
    running, finished = (place(panel, customer, service, quantity=100) for _ in range(2))
    panel.set_order(finished, status="Completed")
    # what the worker records once a provider accepted the order
    execute_sql(
        panel, "UPDATE orders SET send_state = 'sent' WHERE id IN (:a, :b)", a=running, b=finished
    )
    before = footprint(panel, customer)
    assert panel.api(customer.key, "cancel", orders=running) == [{"order": running, "cancel": 1}]
    assert footprint(panel, customer).balance == before.balance  # refunded when it is Canceled
    with nothing_written(panel, customer):
        assert panel.api(customer.key, "cancel", orders=f"{running},{finished}") == [
            {"order": running, "cancel": {"error": "A cancel for this order is already requested"}},
            {
                "order": finished,
                "cancel": {"error": "The order is already finished and can no longer be canceled"},
            },
        ]
    execute_sql(panel, "UPDATE orders SET cancel_state = 'sent' WHERE id = :id", id=running)
    with nothing_written(panel, customer):
        assert panel.api(customer.key, "cancel", order=running) == [
            {"order": running, "cancel": {"error": "A cancel for this order was already sent"}}
        ]


def test_one_refused_cancel_does_not_undo_the_others(panel: Panel, customer: Customer) -> None:
    service = panel.service(cancel=True, rate="10")
    good = place(panel, customer, service, quantity=100)
    started = place(panel, customer, service, quantity=100)
    panel.set_order(started, status="Processing")
    before = panel.balance(customer)
    answer = panel.api(customer.key, "cancel", orders=f"{started},{good}")
    assert answer[1] == {"order": good, "cancel": 1}
    assert "error" in answer[0]["cancel"]
    assert panel.balance(customer) == before + Decimal("1")


def test_refill_refusals(panel: Panel, customer: Customer) -> None:
    no_refill = panel.service(refill=False)
    service = panel.service(refill=True, refill_days=30)
    fixed = place(panel, customer, no_refill, quantity=100)
    panel.set_order(fixed, status="Completed")
    assert (
        refusal(panel, customer, "refill", order=fixed)
        == "Refill is not available for this service"
    )
    for status in ("Pending", "In progress", "Processing", "Canceled"):
        order = place(panel, customer, service, quantity=100)
        if status != "Pending":
            panel.set_order(order, status=status)
        assert refusal(panel, customer, "refill", order=order) == (
            "Refill is available only for completed or partial orders"
        )
    done = place(panel, customer, service, quantity=100)
    panel.set_order(done, status="Completed")
    refill = panel.api(customer.key, "refill", order=done)["refill"]
    assert refusal(panel, customer, "refill", order=done) == (
        "A refill for this order is already in progress"
    )
    panel.set_refill(int(refill), "In progress")
    assert refusal(panel, customer, "refill", order=done) == (
        "A refill for this order is already in progress"
    )
    panel.set_refill(int(refill), "Completed")
    # once the previous refill is over, another may be asked for
    assert panel.api(customer.key, "refill", order=done)["refill"] != refill


def test_refill_window_over(panel: Panel, customer: Customer) -> None:
    service = panel.service(refill=True, refill_days=30)
    order = place(panel, customer, service, quantity=100)
    panel.set_order(order, status="Completed")
    # thirty-one days pass
    execute_sql(
        panel,
        "UPDATE orders SET finished_at = :when WHERE id = :id",
        when=utcnow() - timedelta(days=31),
        id=order,
    )
    assert refusal(panel, customer, "refill", order=order) == (
        "The refill period of 30 days has ended"
    )
    with nothing_written(panel, customer):
        assert panel.api(customer.key, "refill", orders=str(order)) == [
            {"order": order, "refill": {"error": "The refill period of 30 days has ended"}}
        ]
    inside = place(panel, customer, service, quantity=100)
    panel.set_order(inside, status="Completed")
    execute_sql(
        panel,
        "UPDATE orders SET finished_at = :when WHERE id = :id",
        when=utcnow() - timedelta(days=29),
        id=inside,
    )
    assert "refill" in panel.api(customer.key, "refill", order=inside)


def test_refused_requests_in_every_transport_write_nothing(
    panel: Panel, customer: Customer
) -> None:
    service = panel.service(min_quantity=50)
    with nothing_written(panel, customer):
        assert form(
            panel, f"key={customer.key}&action=add&service={service}&link=&quantity=100"
        ) == {"error": "Incorrect link"}
        assert form(
            panel, f"key={customer.key}&action=add&service={service}&link={LINK}&quantity=5"
        ) == {"error": "Quantity less than minimal 50"}
