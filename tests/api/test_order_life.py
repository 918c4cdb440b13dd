"""Spec §4-§5: an order's life through staff updates, its refunds, and its refills.

Staff updates go through the same service the back office uses (``panel.set_order``), and
through the CLI (``opensmm order set`` / ``opensmm refill set``) where the CLI is the point.
"""

from __future__ import annotations

import threading
from decimal import ROUND_DOWN, Decimal

import pytest

from opensmm.ledger.models import LedgerEntry
from tests.api.helpers import LINK, footprint, nothing_written, place
from tests.support.panel import Customer, Panel


def refunds_of(panel: Panel, order: int) -> list[Decimal]:
    from sqlalchemy import select

    with panel.db.read() as session:
        return list(
            session.scalars(
                select(LedgerEntry.amount)
                .where(LedgerEntry.order_id == order, LedgerEntry.kind == "refund")
                .order_by(LedgerEntry.id)
            )
        )


@pytest.fixture
def customer(panel: Panel) -> Customer:
    return panel.customer(balance="100")


def test_status_reflects_each_staff_update(panel: Panel, customer: Customer) -> None:
    service = panel.service(rate="2")
    order = place(panel, customer, service, quantity=1000)

    def status() -> dict[str, str]:
        result: dict[str, str] = panel.api(customer.key, "status", order=order)
        return result

    panel.set_order(order, status="in_progress", start_count=120)
    assert status() == {
        "charge": "2.00",
        "start_count": "120",
        "status": "In progress",
        "remains": "1000",
        "currency": "USD",
    }
    panel.set_order(order, status="PROCESSING", remains=400)
    assert (status()["status"], status()["remains"]) == ("Processing", "400")
    panel.set_order(order, status="Completed")
    assert status() == {
        "charge": "2.00",
        "start_count": "120",
        "status": "Completed",
        "remains": "0",
        "currency": "USD",
    }
    assert panel.balance(customer) == Decimal("98")


def test_partial_refunds_the_remains_share_exactly_once(panel: Panel, customer: Customer) -> None:
    service = panel.service(rate="1.23457")
    order = place(panel, customer, service, quantity=777)  # charge 0.95926
    charge = Decimal("0.95926")
    assert panel.balance(customer) == Decimal("100") - charge
    panel.set_order(order, status="In progress", start_count=10)
    for _ in range(3):  # a replayed update refunds nothing more
        panel.set_order(order, status="Partial", remains=123)
    share = (charge * 123 / 777).quantize(Decimal("0.00001"), rounding=ROUND_DOWN)
    assert share == Decimal("0.15185")
    assert refunds_of(panel, order) == [share]
    assert panel.balance(customer) == Decimal("100") - charge + share
    status = panel.api(customer.key, "status", order=order)
    assert status == {
        "charge": str(charge - share),
        "start_count": "10",
        "status": "Partial",
        "remains": "123",
        "currency": "USD",
    }
    assert panel.ledger_mismatches() == []


def test_a_partial_order_then_canceled_refunds_the_rest_once(
    panel: Panel, customer: Customer
) -> None:
    service = panel.service(rate="3")
    order = place(panel, customer, service, quantity=1000)
    panel.set_order(order, status="Partial", remains=250)
    assert panel.balance(customer) == Decimal("97.75")
    for _ in range(2):
        panel.set_order(order, status="Canceled")
    assert refunds_of(panel, order) == [Decimal("0.75"), Decimal("2.25")]
    assert panel.balance(customer) == Decimal("100")
    assert panel.api(customer.key, "status", order=order)["charge"] == "0.00"
    assert panel.ledger_mismatches() == []


def test_canceled_refunds_everything_once(panel: Panel, customer: Customer) -> None:
    service = panel.service(rate="5")
    order = place(panel, customer, service, quantity=2000)
    panel.set_order(order, status="In progress")
    for _ in range(3):
        panel.set_order(order, status="canceled")
    assert refunds_of(panel, order) == [Decimal("10")]
    assert panel.balance(customer) == Decimal("100")
    assert panel.api(customer.key, "status", order=order)["status"] == "Canceled"
    assert panel.ledger_mismatches() == []


def test_staff_cannot_revive_a_canceled_order(panel: Panel, customer: Customer) -> None:
    from opensmm.errors import DomainError

    order = place(panel, customer, panel.service(), quantity=100)
    panel.set_order(order, status="Canceled")
    with nothing_written(panel, customer), pytest.raises(DomainError, match="canceled"):
        panel.set_order(order, status="Completed")
    with pytest.raises(DomainError, match="Unknown status"):
        panel.set_order(order, status="Refunded-ish")


def test_partial_needs_remains_within_the_order(panel: Panel, customer: Customer) -> None:
    from opensmm.errors import DomainError

    order = place(panel, customer, panel.service(), quantity=100)
    with nothing_written(panel, customer):
        with pytest.raises(DomainError, match="remains above zero"):
            panel.set_order(order, status="Partial", remains=0)
        with pytest.raises(DomainError, match="between 0 and 100"):
            panel.set_order(order, status="Partial", remains=101)


def test_customer_cancel_refunds_fully(panel: Panel, customer: Customer) -> None:
    service = panel.service(rate="1.23457", cancel=True)
    order = place(panel, customer, service, quantity=777)
    assert panel.api(customer.key, "cancel", orders=order) == [{"order": order, "cancel": 1}]
    assert panel.balance(customer) == Decimal("100")
    assert panel.api(customer.key, "status", order=order) == {
        "charge": "0.00",
        "start_count": "0",
        "status": "Canceled",
        "remains": "777",
        "currency": "USD",
    }
    # a second cancel is refused and pays nothing
    with nothing_written(panel, customer):
        again = panel.api(customer.key, "cancel", orders=order)
    assert again == [{"order": order, "cancel": {"error": "The order is already canceled"}}]
    assert panel.ledger_mismatches() == []


def test_refill_life(panel: Panel, customer: Customer) -> None:
    service = panel.service(refill=True)
    order = place(panel, customer, service, quantity=100)
    panel.set_order(order, status="Completed")
    refill = int(panel.api(customer.key, "refill", order=order)["refill"])
    for status in ("In progress", "Completed"):
        panel.set_refill(refill, status)
        assert panel.api(customer.key, "refill_status", refill=refill) == {"status": status}
    second = int(panel.api(customer.key, "refill", order=order)["refill"])
    panel.set_refill(second, "rejected")
    third = int(panel.api(customer.key, "refill", order=order)["refill"])
    panel.set_refill(third, "ERROR")
    assert panel.api(customer.key, "refill_status", refills=f"{refill},{second},{third}") == [
        {"refill": refill, "status": "Completed"},
        {"refill": second, "status": "Rejected"},
        {"refill": third, "status": "Error"},
    ]
    # refills move no money
    assert panel.balance(customer) == Decimal("99.91")


def test_a_partial_order_can_be_refilled(panel: Panel, customer: Customer) -> None:
    service = panel.service(refill=True)
    order = place(panel, customer, service, quantity=100)
    panel.set_order(order, status="Partial", remains=10)
    assert "refill" in panel.api(customer.key, "refill", order=order)


def test_cli_order_set_and_refill_set(panel: Panel, customer: Customer) -> None:
    service = panel.service(rate="2", refill=True)
    order = place(panel, customer, service, quantity=1000)
    result = panel.cli(
        "order", "set", str(order), "--status", "Partial", "--remains", "100", "--start-count", "50"
    )
    assert result.stdout.strip() == f"Order {order}: Partial, remains 100, refunded 0.20"
    panel.set_order(order, status="Partial", remains=100)  # the same update, replayed
    assert refunds_of(panel, order) == [Decimal("0.2")]
    assert panel.api(customer.key, "status", order=order) == {
        "charge": "1.80",
        "start_count": "50",
        "status": "Partial",
        "remains": "100",
        "currency": "USD",
    }
    refill = int(panel.api(customer.key, "refill", order=order)["refill"])
    result = panel.cli("refill", "set", str(refill), "--status", "in progress")
    assert result.stdout.strip() == f"Refill {refill}: In progress"
    assert panel.api(customer.key, "refill_status", refill=refill) == {"status": "In progress"}
    result = panel.cli("order", "set", str(order), "--status", "Canceled")
    assert result.stdout.strip() == f"Order {order}: Canceled, remains 100, refunded 2.00"
    assert refunds_of(panel, order) == [Decimal("0.2"), Decimal("1.8")]
    assert panel.balance(customer) == Decimal("100")
    assert panel.ledger_mismatches() == []


def test_concurrent_orders_never_overdraw(panel: Panel) -> None:
    customer = panel.customer(balance="0.5")
    service = panel.service(rate="1")  # 100 units cost 0.10: five orders fit
    answers: list[dict[str, object]] = []
    lock = threading.Lock()

    def order() -> None:
        import httpx

        with httpx.Client(timeout=60) as client:
            response = client.post(
                panel.api_url,
                data={
                    "key": customer.key,
                    "action": "add",
                    "service": str(service),
                    "link": LINK,
                    "quantity": "100",
                },
            )
        with lock:
            answers.append(response.json())

    threads = [threading.Thread(target=order) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    accepted = [a for a in answers if "order" in a]
    refused = [a for a in answers if "error" in a]
    assert len(accepted) == 5, answers
    assert refused == [{"error": "Not enough funds on balance"}] * 11
    assert panel.balance(customer) == 0
    assert footprint(panel, customer).orders == 5
    assert panel.ledger_mismatches() == []
