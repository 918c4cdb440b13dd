"""Several server processes on one database: the guarantees hold across processes.

A second ``opensmm serve --workers 2`` (two more processes) runs on the panel's own
database; the parallel requests are split between the two servers. Nothing is shared
between the processes but the database, so only its locks stand between the requests.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from decimal import Decimal

import pytest

from opensmm.ledger.models import CHARGE, REFUND
from tests.concurrency.race import all_at_once, api_call, ledger_rows, orders_of, report, tally
from tests.support.panel import Panel

N = 24
RATE = "7.77777"
QUANTITY = 129  # 7.77777 × 129 / 1000 = 1.00333233 → 1.00333
CHARGE_EACH = Decimal("1.00333")


@pytest.fixture
def second_server(panel: Panel) -> Iterator[Panel]:
    other = Panel(kind=panel.kind, database_url=panel.database_url, db=panel.db)
    other.start("--workers", "2", "--no-worker")
    try:
        yield other
    finally:
        other.stop()


def test_parallel_adds_split_across_servers(panel: Panel, second_server: Panel) -> None:
    customer = panel.customer(balance=CHARGE_EACH * N)
    service = panel.service(rate=RATE, cancel=True)
    urls = [panel.api_url, second_server.api_url]
    tasks = [
        api_call(
            urls[i % 2],
            key=customer.key,
            action="add",
            service=service,
            link=f"https://two.test/{i}",
            quantity=QUANTITY,
        )
        for i in range(4 * N)
    ]
    answers = all_at_once(tasks)
    counts = tally(answers)
    by_server = [tally(answers[start::2])["order"] for start in (0, 1)]
    placed = orders_of(panel, customer)
    line = report(
        "parallel add on 2 servers (3 processes)",
        panel,
        requests=4 * N,
        accepted=counts["order"],
        accepted_by_server=by_server,
        answers=dict(counts),
        orders=len(placed),
        balance=panel.balance(customer),
    )
    assert counts == {"order": N, "Not enough funds on balance": 3 * N}, line
    assert panel.balance(customer) == 0, line
    assert len(placed) == N and {o.charge for o in placed} == {CHARGE_EACH}, line
    assert len(ledger_rows(panel, customer, CHARGE)) == N, line
    assert panel.ledger_mismatches() == [], line

    # Now every order canceled from both servers at once, three times over.
    ids = [order.id for order in placed]
    cancels = [
        api_call(urls[(i + j) % 2], key=customer.key, action="cancel", orders=order_id)
        for i, order_id in enumerate(ids)
        for j in range(3)
    ]
    outcomes = Counter(
        "canceled" if answer[0]["cancel"] == 1 else answer[0]["cancel"]["error"]
        for answer in all_at_once(cancels)
    )
    refunds = ledger_rows(panel, customer, REFUND)
    line = report(
        "parallel cancel on 2 servers",
        panel,
        requests=len(cancels),
        outcomes=dict(outcomes),
        refund_entries=len(refunds),
        balance=panel.balance(customer),
    )
    assert outcomes == {"canceled": N, "The order is already canceled": 2 * N}, line
    assert sorted(entry.order_id for entry in refunds) == sorted(ids), line
    assert panel.balance(customer) == CHARGE_EACH * N, line
    assert panel.ledger_mismatches() == [], line
