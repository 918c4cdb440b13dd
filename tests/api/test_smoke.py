from tests.support.panel import Panel


def test_balance_and_order_round_trip(panel: Panel) -> None:
    customer = panel.customer(balance="10")
    service = panel.service(rate="0.90")
    assert panel.api(customer.key, "balance") == {"balance": "10.00", "currency": "USD"}
    placed = panel.api(customer.key, "add", service=service, link="https://x.test/a", quantity=100)
    assert placed == {"order": placed["order"]}
    assert panel.api(customer.key, "status", order=placed["order"])["charge"] == "0.09"
    assert panel.balance(customer) == 10 - __import__("decimal").Decimal("0.09")
    assert panel.ledger_mismatches() == []
