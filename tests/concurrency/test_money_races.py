"""Money under contention, over real HTTP: many requests at once on one account.

The spec (§5) promises that two concurrent orders can never take a balance below zero and
that every refund is paid exactly once. These tests fund an account for exactly N orders
and fire 4N requests together, then read what the database holds.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest

from opensmm.errors import DomainError
from opensmm.ledger import service as ledger
from opensmm.ledger.models import CHARGE, DEPOSIT, REFUND
from opensmm.orders import statuses as st
from tests.concurrency.race import (
    all_at_once,
    api_call,
    ledger_rows,
    orders_of,
    report,
    tally,
)
from tests.support.panel import Panel

N = 20
# 3.33337 × 370 / 1000 = 1.2333469, charged half-up: an amount with all five decimals.
RATE = "3.33337"
QUANTITY = 370
CHARGE_EACH = Decimal("1.23335")
NOT_ENOUGH = "Not enough funds on balance"


def test_parallel_adds_accept_exactly_what_the_balance_pays_for(panel: Panel) -> None:
    customer = panel.customer(balance=CHARGE_EACH * N)
    service = panel.service(rate=RATE)
    tasks = [
        api_call(
            panel.api_url,
            key=customer.key,
            action="add",
            service=service,
            link=f"https://example.test/p/{i}",
            quantity=QUANTITY,
        )
        for i in range(4 * N)
    ]
    counts = tally(all_at_once(tasks))
    placed = orders_of(panel, customer)
    charges = ledger_rows(panel, customer, CHARGE)
    line = report(
        "parallel add",
        panel,
        requests=4 * N,
        accepted=counts["order"],
        refused=counts[NOT_ENOUGH],
        answers=dict(counts),
        orders=len(placed),
        balance=panel.balance(customer),
    )
    assert counts == {"order": N, NOT_ENOUGH: 3 * N}, line
    assert panel.balance(customer) == Decimal(0), line
    assert len(placed) == N, line
    assert all(order.charge == CHARGE_EACH for order in placed), line
    assert [entry.amount for entry in charges] == [-CHARGE_EACH] * N, line
    assert panel.ledger_mismatches() == [], line


def test_parallel_cancels_refund_each_order_exactly_once(panel: Panel) -> None:
    start = CHARGE_EACH * N + Decimal("0.00007")
    customer = panel.customer(balance=start)
    service = panel.service(rate=RATE, cancel=True)
    ids = [
        panel.api(
            customer.key, "add", service=service, link=f"https://c.test/{i}", quantity=QUANTITY
        )["order"]
        for i in range(N)
    ]
    assert panel.balance(customer) == Decimal("0.00007")
    everything = ",".join(str(i) for i in ids)
    # Each order is named by three single cancels and by one cancel of the whole list.
    tasks = [
        api_call(panel.api_url, key=customer.key, action="cancel", orders=order_id)
        for order_id in ids
        for _ in range(3)
    ] + [api_call(panel.api_url, key=customer.key, action="cancel", orders=everything)] * N
    answers = all_at_once(tasks)
    successes: dict[int, int] = dict.fromkeys(ids, 0)
    refusals: dict[str, int] = {}
    for answer in answers:
        assert isinstance(answer, list), answer
        for item in answer:
            if item["cancel"] == 1:
                successes[item["order"]] += 1
            else:
                message = item["cancel"]["error"]
                refusals[message] = refusals.get(message, 0) + 1
    refunds = ledger_rows(panel, customer, REFUND)
    line = report(
        "parallel cancel",
        panel,
        requests=len(tasks),
        cancel_attempts=sum(len(a) for a in answers),
        canceled=sum(successes.values()),
        refused=refusals,
        refund_entries=len(refunds),
        balance=panel.balance(customer),
    )
    assert successes == dict.fromkeys(ids, 1), line
    attempts = sum(len(answer) for answer in answers)  # 3N singles + N lists of N
    assert attempts == 3 * N + N * N, line
    assert refusals == {"The order is already canceled": attempts - N}, line
    assert sorted(entry.order_id for entry in refunds) == sorted(ids), line
    assert all(entry.amount == CHARGE_EACH for entry in refunds), line
    assert panel.balance(customer) == start, line
    assert all(order.status == st.CANCELED for order in orders_of(panel, customer)), line
    assert panel.ledger_mismatches() == [], line


def test_parallel_adds_and_cancels_together_keep_the_ledger(panel: Panel) -> None:
    """Adds and cancels on one account at once: each takes the account's row lock."""
    customer = panel.customer(balance=CHARGE_EACH * N)
    service = panel.service(rate=RATE, cancel=True)
    ids = [
        panel.api(
            customer.key, "add", service=service, link=f"https://m.test/{i}", quantity=QUANTITY
        )["order"]
        for i in range(N // 2)
    ]
    adds = [
        api_call(
            panel.api_url,
            key=customer.key,
            action="add",
            service=service,
            link=f"https://m.test/new/{i}",
            quantity=QUANTITY,
        )
        for i in range(2 * N)
    ]
    cancels = [
        api_call(panel.api_url, key=customer.key, action="cancel", orders=order_id)
        for order_id in ids
    ]
    answers = all_at_once(adds + cancels)
    counts = tally(answers[: len(adds)])
    canceled = sum(1 for answer in answers[len(adds) :] if answer[0]["cancel"] == 1)
    balance = panel.balance(customer)
    placed = orders_of(panel, customer)
    live = [order for order in placed if order.status != st.CANCELED]
    line = report(
        "parallel add+cancel",
        panel,
        adds=dict(counts),
        canceled=canceled,
        orders=len(placed),
        live=len(live),
        balance=balance,
    )
    assert canceled == N // 2, line
    # Whatever the interleaving, the money is the start minus what the live orders cost.
    assert balance == CHARGE_EACH * N - CHARGE_EACH * len(live), line
    assert balance >= 0, line
    assert counts["order"] + counts[NOT_ENOUGH] == 2 * N, line
    assert counts["order"] >= N // 2, line  # the first half of the funds was free from the start
    assert panel.ledger_mismatches() == [], line


def test_parallel_negative_funds_never_take_a_balance_below_zero(panel: Panel) -> None:
    customer = panel.customer(balance="10.00")

    # Staff take back 1.00 forty times at once (the service the CLI and back office use).
    def take_back() -> str:
        try:
            with panel.db.write() as session:
                ledger.add_funds(session, customer.id, Decimal("-1.00"), memo="", actor="test")
        except DomainError as exc:
            return exc.message
        return "moved"

    tasks = [take_back] * 40
    with ThreadPoolExecutor(max_workers=40) as pool:
        outcomes = list(pool.map(lambda task: task(), tasks))
    line = report(
        "parallel funds -1.00 (service)",
        panel,
        requests=len(tasks),
        moved=outcomes.count("moved"),
        refused=outcomes.count(NOT_ENOUGH),
        balance=panel.balance(customer),
    )
    assert outcomes.count("moved") == 10, line
    assert outcomes.count(NOT_ENOUGH) == 30, line
    assert panel.balance(customer) == 0, line
    assert panel.ledger_mismatches() == [], line


def test_parallel_negative_funds_through_the_cli(panel: Panel) -> None:
    """``opensmm funds add NAME -- -1.50`` from several processes at once."""
    customer = panel.customer(balance="4.50")
    processes = 6

    def run() -> tuple[int, str]:
        result = panel.cli(
            "funds", "add", customer.name, "--memo", "test", "--", "-1.50", check=False
        )
        return result.returncode, (result.stdout + result.stderr).strip()

    results = all_at_once([run] * processes)
    ok = [out for code, out in results if code == 0]
    refused = [out for code, out in results if code != 0]
    deposits = ledger_rows(panel, customer, DEPOSIT)
    line = report(
        "parallel funds -1.50 (cli processes)",
        panel,
        processes=processes,
        moved=len(ok),
        refused=len(refused),
        balance=panel.balance(customer),
        outputs=sorted(set(out.splitlines()[-1] for _, out in results)),
    )
    assert len(ok) == 3, line
    assert all(out == f"error: {NOT_ENOUGH}" for out in refused), line
    assert panel.balance(customer) == 0, line
    assert [entry.amount for entry in deposits] == [Decimal("4.50")] + [Decimal("-1.50")] * 3, line
    assert panel.ledger_mismatches() == [], line


@pytest.mark.parametrize("amount", ["-0.00001", "-10.00001"])
def test_a_negative_fund_larger_than_the_balance_is_refused_whole(
    panel: Panel, amount: str
) -> None:
    customer = panel.customer(balance="10.00" if amount != "-0.00001" else 0)
    before = panel.balance(customer)
    result = panel.cli("funds", "add", customer.name, "--memo", "test", "--", amount, check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == f"error: {NOT_ENOUGH}"
    assert panel.balance(customer) == before
    assert panel.ledger_mismatches() == []


@pytest.mark.parametrize("amount", ["1e30", "-1e30", "1e999999", "NaN", "0.000001"])
def test_an_impossible_amount_is_a_clear_refusal(panel: Panel, amount: str) -> None:
    """Regression: ``funds add NAME 1e30`` died with a decimal.InvalidOperation traceback."""
    customer = panel.customer(balance="1.00")
    result = panel.cli("funds", "add", customer.name, "--memo", "test", "--", amount, check=False)
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: Incorrect amount {amount!r}: "), result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert panel.balance(customer) == Decimal("1.00")
