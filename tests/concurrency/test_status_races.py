"""Staff status updates and refills under contention.

Partial and Canceled pay money back; applied at the same time from many threads (the
service the back office uses) and from ``opensmm order set`` processes, each refund must
still be paid once, never more than the charge, and the order must show what was paid
for. Refill requests sent together on one order must open exactly one refill.
"""

from __future__ import annotations

import itertools
from collections import Counter
from decimal import Decimal

from opensmm.errors import DomainError
from opensmm.ledger.models import REFUND
from opensmm.money import refund_share
from opensmm.orders import statuses as st
from tests.concurrency.race import all_at_once, api_call, ledger_rows, orders_of, report
from tests.support.panel import Panel

ORDERS = 6
QUANTITY = 1000
RATE = "1.23457"  # 1000 units cost 1.23457: shares of it need rounding down


def _staff_update(panel: Panel, order_id: int, **update: object):  # type: ignore[no-untyped-def]
    def run() -> str:
        try:
            panel.set_order(order_id, **update)
        except DomainError as exc:
            return f"refused: {exc.message}"
        return "applied"

    return run


def _cli_update(panel: Panel, order_id: int, *args: str):  # type: ignore[no-untyped-def]
    def run() -> str:
        result = panel.cli("order", "set", str(order_id), *args, check=False)
        if result.returncode == 0:
            return "applied"
        return f"refused: {result.stderr.strip().removeprefix('error: ')}"

    return run


def test_parallel_partial_and_cancel_updates_refund_once(panel: Panel) -> None:
    start = Decimal("50.00")
    customer = panel.customer(balance=start)
    service = panel.service(rate=RATE)
    ids = [
        panel.api(
            customer.key, "add", service=service, link=f"https://s.test/{i}", quantity=QUANTITY
        )["order"]
        for i in range(ORDERS)
    ]
    for order_id in ids:
        panel.set_order(order_id, status="In progress", start_count=10)
    tasks = []
    for index, order_id in enumerate(ids):
        # Partials that disagree on the remains, racing each other...
        tasks += [
            _staff_update(panel, order_id, status="Partial", remains=r) for r in (1, 333, 999)
        ]
        tasks += [_staff_update(panel, order_id, status="partial", remains=333)] * 2
        # ... and, on every other order, cancels racing the partials.
        if index % 2 == 0:
            tasks += [_staff_update(panel, order_id, status="Canceled")] * 3
    # A few real `opensmm order set` processes join in (each is a whole interpreter).
    tasks += [
        _cli_update(panel, ids[0], "--status", "Canceled"),
        _cli_update(panel, ids[0], "--status", "Partial", "--remains", "500"),
        _cli_update(panel, ids[1], "--status", "Partial", "--remains", "500"),
        _cli_update(panel, ids[1], "--status", "CANCELED"),
    ]
    outcomes = Counter(all_at_once(tasks))
    placed = {order.id: order for order in orders_of(panel, customer)}
    refunds = ledger_rows(panel, customer, REFUND)
    by_order: dict[int, list[Decimal]] = {order_id: [] for order_id in ids}
    for entry in refunds:
        assert entry.order_id is not None
        by_order[entry.order_id].append(entry.amount)
    line = report(
        "parallel staff updates",
        panel,
        updates=len(tasks),
        outcomes=dict(outcomes),
        statuses=dict(Counter(order.status for order in placed.values())),
        refund_entries=len(refunds),
        refunded=str(sum((o.refunded for o in placed.values()), Decimal(0))),
        balance=panel.balance(customer),
    )
    assert outcomes["applied"] >= len(ids), line
    assert all(
        outcome == "applied" or outcome.startswith("refused: Order ") for outcome in outcomes
    ), line
    for order_id in ids:
        order = placed[order_id]
        paid = by_order[order_id]
        assert order.refunded == sum(paid, Decimal(0)), line
        assert 0 <= order.refunded <= order.charge, line
        assert len(paid) <= 2, line  # one partial share, then at most the rest on cancel
        if order.status == st.CANCELED:
            assert order.refunded == order.charge, line
        else:
            assert order.status == st.PARTIAL, line
            # What the order shows undelivered is what it was refunded for.
            assert order.refunded == refund_share(order.charge, order.remains, order.units), (
                f"order {order_id}: remains {order.remains}, refunded {order.refunded}; {line}"
            )
    # Every order that a cancel reached is fully refunded; the others keep their charge.
    canceled = [order_id for index, order_id in enumerate(ids) if index % 2 == 0]
    assert all(placed[order_id].status == st.CANCELED for order_id in canceled), line
    charged = sum((order.charge for order in placed.values()), Decimal(0))
    refunded = sum((order.refunded for order in placed.values()), Decimal(0))
    assert panel.balance(customer) == start - charged + refunded, line
    assert panel.ledger_mismatches() == [], line


def test_a_partial_order_keeps_the_remains_it_was_refunded_for(panel: Panel) -> None:
    """Regression: a second Partial with other remains used to change the remains shown
    while the refund (paid once) stayed that of the first: the order no longer added up."""
    customer = panel.customer(balance="10")
    service = panel.service(rate=RATE)
    order_id = panel.api(
        customer.key, "add", service=service, link="https://p.test/", quantity=1000
    )["order"]
    panel.set_order(order_id, status="Partial", remains=100)
    try:
        panel.set_order(order_id, status="Partial", remains=900)
    except DomainError as exc:
        refused = exc.message
    else:
        refused = ""
    assert refused == f"Order {order_id} is Partial and partly refunded; its remains cannot change"
    panel.set_order(order_id, status="Partial", remains=100)  # a replay is still fine
    status = panel.api(customer.key, "status", order=order_id)
    assert status["remains"] == "100"
    assert status["charge"] == "1.11112"  # 1.23457 - 0.12345 (100/1000, rounded down)
    assert panel.balance(customer) == Decimal("10") - Decimal("1.23457") + Decimal("0.12345")
    assert panel.ledger_mismatches() == []


def test_parallel_refill_requests_open_exactly_one_refill(panel: Panel) -> None:
    customer = panel.customer(balance="10")
    service = panel.service(rate=RATE, refill=True)
    order_id = panel.api(
        customer.key, "add", service=service, link="https://r.test/", quantity=500
    )["order"]
    panel.set_order(order_id, status="Completed")
    singles = [api_call(panel.api_url, key=customer.key, action="refill", order=order_id)] * 30
    lists = [api_call(panel.api_url, key=customer.key, action="refill", orders=order_id)] * 10
    answers = all_at_once(singles + lists)
    opened = [a["refill"] for a in answers[:30] if "refill" in a] + [
        a[0]["refill"] for a in answers[30:] if not isinstance(a[0]["refill"], dict)
    ]
    refusals = Counter(
        [a["error"] for a in answers[:30] if "error" in a]
        + [a[0]["refill"]["error"] for a in answers[30:] if isinstance(a[0]["refill"], dict)]
    )
    with panel.db.read() as session:
        from sqlalchemy import select

        from opensmm.refills.models import Refill

        refills = list(session.scalars(select(Refill).where(Refill.order_id == order_id)))
    line = report(
        "parallel refill",
        panel,
        requests=len(answers),
        opened=len(opened),
        refused=dict(refusals),
        refills_in_db=len(refills),
    )
    assert len(opened) == 1, line
    assert refusals == {"A refill for this order is already in progress": len(answers) - 1}, line
    assert len(refills) == 1 and refills[0].status == "Pending", line
    assert int(opened[0]) == refills[0].id, line
    # Once that refill is finished, the next burst again opens exactly one.
    panel.set_refill(refills[0].id, "Completed")
    again = all_at_once(
        [api_call(panel.api_url, key=customer.key, action="refill", order=order_id)] * 20
    )
    assert sum(1 for answer in again if "refill" in answer) == 1, again
    assert panel.balance(customer) == Decimal("10") - Decimal("0.61729")  # refills are free
    assert panel.ledger_mismatches() == []


def test_parallel_refills_on_many_orders_of_one_account(panel: Panel) -> None:
    customer = panel.customer(balance="10")
    service = panel.service(rate=RATE, refill=True)
    ids = [
        panel.api(customer.key, "add", service=service, link=f"https://rm.test/{i}", quantity=100)[
            "order"
        ]
        for i in range(8)
    ]
    for order_id in ids:
        panel.set_order(order_id, status="Partial", remains=10)
    everything = ",".join(map(str, ids))
    tasks = [api_call(panel.api_url, key=customer.key, action="refill", orders=everything)] * 12
    answers = all_at_once(tasks)
    opened = Counter(
        item["order"]
        for answer in answers
        for item in answer
        if not isinstance(item["refill"], dict)
    )
    line = report("parallel multi-refill", panel, requests=len(tasks), opened=dict(opened))
    assert opened == dict.fromkeys(ids, 1), line
    assert list(itertools.chain.from_iterable(answers)) and panel.ledger_mismatches() == [], line
