"""The orders page's Cancel and Refill buttons are the services' own rules (``can_cancel``,
``can_refill``), and the API accepts exactly what the buttons offer; on both databases."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import pytest

from opensmm.accounts import service as accounts
from opensmm.accounts.models import User
from opensmm.catalog.models import Service
from opensmm.db import utcnow
from opensmm.errors import Decision
from opensmm.orders import service as orders
from opensmm.orders import statuses as st
from opensmm.orders.models import Order
from opensmm.refills import service as refills
from tests.api.helpers import execute_sql
from tests.support.panel import Panel
from tests.web.support import WebClient, make_person


@dataclass(frozen=True)
class Shopper:
    """A customer who uses both doors: the pages (logged in) and the API (a key)."""

    id: int
    key: str


def shopper(panel: Panel, visitor: WebClient) -> Shopper:
    person = make_person(panel, balance="1000")
    with panel.write() as session:
        user = session.get(User, person.id)
        assert user is not None
        key = accounts.create_key(session, user).key
    visitor.login(person)
    return Shopper(person.id, key)


def place(panel: Panel, who: Shopper, service: int, link: str = "https://x.test/a") -> int:
    placed = panel.api(who.key, "add", service=service, link=link, quantity=100)
    assert "order" in placed, placed
    return int(placed["order"])


def buttons(visitor: WebClient, order_id: int) -> set[str]:
    """The actions the orders page offers for one order."""
    page = visitor.get("/orders", params={"q": str(order_id)}).text
    assert f'data-order="{order_id}"' in page
    return set(re.findall(rf"/orders/{order_id}/(cancel|refill)", page))


def decisions(panel: Panel, order_id: int) -> tuple[Decision, Decision]:
    """What the services answer for the order as it is stored."""
    with panel.db.read() as session:
        order = session.get(Order, order_id)
        assert order is not None
        service = session.get(Service, order.service_id)
        open_now = refills.open_refills(session, [order_id])
        return (
            orders.can_cancel(order, service),
            refills.can_refill(order, service, has_open_refill=order_id in open_now),
        )


def test_an_in_progress_provider_order_shows_cancel_and_cancels(
    panel: Panel, visitor: WebClient
) -> None:
    who = shopper(panel, visitor)
    service = panel.service(cancel=True)
    order_id = place(panel, who, service)
    panel.set_order(order_id, status=st.IN_PROGRESS)
    # what the worker records once a provider accepted the order
    execute_sql(
        panel,
        "UPDATE orders SET send_state = 'sent', upstream_id = 7, fulfillment = 'provider' "
        "WHERE id = :id",
        id=order_id,
    )
    assert buttons(visitor, order_id) == {"cancel"}
    answer = visitor.post(f"/orders/{order_id}/cancel", {"back": "/orders"})
    assert (
        f"Cancel of order {order_id} requested: the provider is asked, and the refund "
        "follows what it answers."
    ) in visitor.flash(answer)
    with panel.db.read() as session:
        order = session.get(Order, order_id)
        assert order is not None
        assert (order.status, order.cancel_state, order.refunded) == (
            st.IN_PROGRESS, "requested", Decimal(0)
        )
    assert buttons(visitor, order_id) == set()  # asked once; the provider answers
    assert panel.api(who.key, "cancel", orders=order_id) == [
        {"order": order_id, "cancel": {"error": "A cancel for this order is already requested"}}
    ]


def test_no_refill_button_once_the_refill_window_has_closed(
    panel: Panel, visitor: WebClient
) -> None:
    who = shopper(panel, visitor)
    service = panel.service(refill=True, refill_days=30)
    fresh, old = place(panel, who, service), place(panel, who, service)
    for order_id in (fresh, old):
        panel.set_order(order_id, status=st.COMPLETED)
    execute_sql(
        panel,
        "UPDATE orders SET finished_at = :at WHERE id = :id",
        at=utcnow() - timedelta(days=31),
        id=old,
    )
    assert buttons(visitor, fresh) == {"refill"}
    assert buttons(visitor, old) == set()
    assert panel.api(who.key, "refill", order=old) == {
        "error": "The refill period of 30 days has ended"
    }
    refused = visitor.post(f"/orders/{old}/refill", {"back": "/orders"})
    assert "The refill period of 30 days has ended" in visitor.flash(refused)


# Where an order's send may stand (None: manual), with its cancel, as the worker leaves them.
SENDS = (
    (None, None),
    ("new", None),
    ("sending", None),
    ("sent", None),
    ("sent", "requested"),
    ("sent", "sent"),
    ("sent", "refused"),
    ("held", None),
)
FLAGS = tuple(itertools.product((False, True), repeat=2))  # (cancel, refill)


def _set_up(
    panel: Panel,
    who: Shopper,
    service: int,
    status: str,
    send: tuple[str | None, str | None],
    window_open: bool,
    link: str,
) -> int:
    order_id = place(panel, who, service, link)
    if status != st.PENDING:
        remains = 40 if status == st.PARTIAL else None
        panel.set_order(order_id, status=status, remains=remains)
    send_state, cancel_state = send
    execute_sql(
        panel,
        "UPDATE orders SET send_state = :send, cancel_state = :cancel, upstream_id = :upstream, "
        "fulfillment = :mode WHERE id = :id",
        send=send_state,
        cancel=cancel_state,
        upstream=99 if send_state == "sent" else None,
        mode="manual" if send_state is None else "provider",
        id=order_id,
    )
    if status in st.FINISHED:
        finished = utcnow() - timedelta(days=1 if window_open else 31)
        execute_sql(panel, "UPDATE orders SET finished_at = :at WHERE id = :id",
                    at=finished, id=order_id)
    return order_id


@pytest.mark.parametrize("cancel,refill", FLAGS)
def test_the_buttons_are_what_the_services_and_the_api_accept(
    panel: Panel, visitor: WebClient, cancel: bool, refill: bool
) -> None:
    """Every order status × send state × service flag (and an open or closed refill window):
    the page offers a button exactly when the service allows the action, and the API
    accepts exactly those, refusing the others with the service's reason."""
    who = shopper(panel, visitor)
    service = panel.service(cancel=cancel, refill=refill, refill_days=30)
    cases = [
        (status, send, window_open)
        for status in st.ORDER_STATUSES
        for send in SENDS
        for window_open in ((True, False) if status in st.FINISHED else (True,))
    ]
    offered = {"cancel": 0, "refill": 0}
    for n, (status, send, window_open) in enumerate(cases):
        order_id = _set_up(panel, who, service, status, send, window_open, f"https://x.test/{n}")
        case = (status, send, window_open)
        may_cancel, may_refill = decisions(panel, order_id)
        shown = buttons(visitor, order_id)
        for action in shown:
            offered[action] += 1
        assert ("cancel" in shown) == may_cancel.allowed, case
        assert ("refill" in shown) == may_refill.allowed, case
        refill_answer = panel.api(who.key, "refill", order=order_id)
        if may_refill:
            assert set(refill_answer) == {"refill"}, case
        else:
            assert refill_answer == {"error": may_refill.message}, case
        cancel_answer = panel.api(who.key, "cancel", orders=order_id)
        expected = 1 if may_cancel else {"error": may_cancel.message}
        assert cancel_answer == [{"order": order_id, "cancel": expected}], case
        # the refusals say why, in the API's own words
        assert may_cancel or may_cancel.message
        assert may_refill or may_refill.message
    # the table reaches orders where each action the service offers is allowed
    assert (offered["cancel"] > 0, offered["refill"] > 0) == (cancel, refill)


def test_the_back_offices_cancel_button_is_the_services_rule(
    panel: Panel, visitor: WebClient
) -> None:
    who = Shopper(0, panel.customer(balance="100").key)
    service = panel.service(cancel=False)
    visitor.login(make_person(panel, staff=True))
    for status, remains in ((st.PENDING, None), (st.COMPLETED, None), (st.PARTIAL, 40),
                            (st.CANCELED, None)):
        order_id = place(panel, who, service, f"https://x.test/staff/{status}")
        if status != st.PENDING:
            panel.set_order(order_id, status=status, remains=remains)
        with panel.db.read() as session:
            order = session.get(Order, order_id)
            assert order is not None
            allowed = orders.can_staff_cancel(order).allowed
        assert allowed == (status != st.CANCELED)
        page = visitor.get(f"/admin/orders/{order_id}").text
        assert (f"/admin/orders/{order_id}/cancel" in page) == allowed, status
