"""``Idempotency-Key`` on ``add`` (spec §7): a retry is the same order, charged once; another
order under the same key is refused; keys of different accounts never meet. Against a real
panel on SQLite and PostgreSQL, and the worker's forwarded orders carry their key
(tests/fulfillment/test_provider_mode.py)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import func, select, update

from opensmm.db import utcnow
from opensmm.orders import idempotency
from opensmm.orders.models import IdempotencyKey, Order
from tests.support.panel import Customer, Panel


@pytest.fixture(scope="module")
def service(panel: Panel) -> int:
    return panel.service(rate="1.00", min_quantity=10, max_quantity=100_000)


def _add(panel: Panel, customer: Customer, service: int, *, headers: dict[str, str] | None = None,
         **params: object) -> dict[str, object]:
    data = {"key": customer.key, "action": "add", "service": service,
            "link": "https://example.com/p/1", "quantity": 100, **params}
    answer = panel.http.post(panel.api_url, data={k: str(v) for k, v in data.items()},
                             headers=headers or {})
    assert answer.status_code == 200
    result: dict[str, object] = answer.json()
    return result


def _orders(panel: Panel, customer: Customer) -> int:
    with panel.db.read() as session:
        return int(session.scalar(select(func.count(Order.id))
                                  .where(Order.user_id == customer.id)) or 0)


def test_a_retry_with_the_same_key_is_the_same_order_charged_once(
    panel: Panel, service: int
) -> None:
    customer = panel.customer(balance="10")
    first = _add(panel, customer, service, idempotency_key="retry-1")
    again = _add(panel, customer, service, idempotency_key="retry-1")
    by_header = _add(panel, customer, service, headers={"Idempotency-Key": "retry-1"})
    assert "order" in first and first == again == by_header
    assert _orders(panel, customer) == 1
    assert panel.balance(customer) == Decimal("9.9")
    # without a key, the same parameters are another order, as always
    assert _add(panel, customer, service)["order"] != first["order"]
    assert panel.ledger_mismatches() == []


def test_the_same_key_for_another_order_is_refused_and_charges_nothing(
    panel: Panel, service: int
) -> None:
    customer = panel.customer(balance="10")
    _add(panel, customer, service, idempotency_key="k-2")
    other = _add(panel, customer, service, idempotency_key="k-2", quantity=200)
    assert other == {"error": "This idempotency key was used for another order"}
    assert _orders(panel, customer) == 1 and panel.balance(customer) == Decimal("9.9")


def test_keys_of_different_accounts_never_meet(panel: Panel, service: int) -> None:
    alice, bob = panel.customer(balance="5"), panel.customer(balance="5")
    one = _add(panel, alice, service, idempotency_key="shared")
    two = _add(panel, bob, service, idempotency_key="shared")
    assert one["order"] != two["order"]
    assert panel.balance(alice) == panel.balance(bob) == Decimal("4.9")


@pytest.mark.parametrize("key", ["", "x" * 101, "has space", "semi;colon", "é", "a/b"])
def test_malformed_keys_are_refused_and_change_nothing(
    panel: Panel, service: int, key: str
) -> None:
    customer = panel.customer(balance="5")
    answer = _add(panel, customer, service, idempotency_key=key)
    assert answer == {"error": "An idempotency key is 1 to 100 letters, digits, - or _"}
    assert _orders(panel, customer) == 0 and panel.balance(customer) == Decimal("5")


def test_a_header_and_a_parameter_that_disagree_are_a_malformed_request(
    panel: Panel, service: int
) -> None:
    customer = panel.customer(balance="5")
    answer = _add(panel, customer, service, idempotency_key="a1",
                  headers={"Idempotency-Key": "b2"})
    assert answer == {"error": "Incorrect request"}
    assert _orders(panel, customer) == 0


def test_a_refused_order_does_not_use_the_key_up(panel: Panel, service: int) -> None:
    customer = panel.customer(balance="0.05")
    assert _add(panel, customer, service, idempotency_key="later") == {
        "error": "Not enough funds on balance"}
    with panel.write() as session:
        from opensmm.ledger.service import add_funds
        add_funds(session, customer.id, Decimal("1"), memo="top up", actor="test")
    assert "order" in _add(panel, customer, service, idempotency_key="later")
    assert _orders(panel, customer) == 1


def test_ten_parallel_retries_make_one_order(panel: Panel, service: int) -> None:
    customer = panel.customer(balance="10")
    data = {"key": customer.key, "action": "add", "service": str(service),
            "link": "https://example.com/p/2", "quantity": "100", "idempotency_key": "burst"}

    def post(_: int) -> object:
        with httpx.Client(timeout=30) as http:
            return http.post(panel.api_url, data=data).json()

    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(post, range(10)))
    assert len({str(a) for a in answers}) == 1 and "order" in answers[0]  # type: ignore[operator]
    assert _orders(panel, customer) == 1 and panel.balance(customer) == Decimal("9.9")


def test_a_key_is_kept_for_24_hours_then_free_again(panel: Panel, service: int) -> None:
    customer = panel.customer(balance="10")
    first = _add(panel, customer, service, idempotency_key="daily")
    with panel.write() as session:
        session.execute(update(IdempotencyKey)
                        .where(IdempotencyKey.user_id == customer.id)
                        .values(created_at=utcnow() - timedelta(hours=25)))
    second = _add(panel, customer, service, idempotency_key="daily")
    assert second["order"] != first["order"] and _orders(panel, customer) == 2
    assert _add(panel, customer, service, idempotency_key="daily") == second
    with panel.write() as session:
        session.execute(update(IdempotencyKey)
                        .where(IdempotencyKey.user_id == customer.id)
                        .values(created_at=utcnow() - timedelta(hours=25)))
    assert idempotency.purge_expired(panel.db) >= 1
    with panel.db.read() as session:
        assert session.scalar(select(func.count(IdempotencyKey.id))
                              .where(IdempotencyKey.user_id == customer.id)) == 0

