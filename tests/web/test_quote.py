"""The new-order page's live price refuses what placing the order refuses, with the same
message (one prepare step: ``orders.prepare``), through the page and the API alike."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from opensmm.orders.models import Order
from tests.support.panel import Panel
from tests.web.support import WebClient, make_person


def count_orders(panel: Panel, user_id: int) -> int:
    with panel.db.read() as session:
        return int(session.scalar(select(func.count()).where(Order.user_id == user_id)) or 0)


def test_quote_and_place_refuse_the_same_inputs_alike(panel: Panel, visitor: WebClient) -> None:
    person = make_person(panel, balance="100")
    api_customer = panel.customer(balance="100")
    visitor.login(person)
    one_per_link = panel.service(rate="1", one_active_per_link=True)
    dear = panel.service(rate="900000000", max_quantity=10_000_000)
    link = "https://x.test/busy"
    # An order is running on the link (the rule is per service and link, whoever asks).
    assert "order" in panel.api(api_customer.key, "add", service=one_per_link, link=link,
                                quantity=100)
    cases: list[tuple[dict[str, Any], str]] = [
        (
            {"service": one_per_link, "link": link, "quantity": "100"},
            "You have active order with this link. Please wait until order being completed.",
        ),
        # 1.8e12: more than any balance (or the money column) holds
        (
            {"service": dear, "link": "https://x.test/a", "quantity": "2000000"},
            "Not enough funds on balance",
        ),
        ({"service": "999999", "link": "https://x.test/a", "quantity": "100"},
         "Incorrect service ID"),
        ({"service": one_per_link, "link": "https://x.test/b", "quantity": "1"},
         "Quantity less than minimal 10"),
    ]
    for fields, message in cases:
        assert visitor.post("/order/quote", fields).json() == {"error": message}, fields
        placed = visitor.post("/order/new", fields)
        assert placed.status_code == 400 and message in placed.text, fields
        assert panel.api(api_customer.key, "add", **fields) == {"error": message}, fields
    assert count_orders(panel, person.id) == 0
    # and what may be placed is quoted at what it is charged
    quote = visitor.post(
        "/order/quote", {"service": one_per_link, "link": "https://x.test/c", "quantity": "100"}
    ).json()
    assert (quote["charge"], quote["units"], quote["enough"]) == ("0.10", 100, True)
