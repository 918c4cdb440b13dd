"""Firing many real HTTP requests at once, and reading what the database holds after."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import httpx
from sqlalchemy import func, select

from opensmm.ledger.models import LedgerEntry
from opensmm.orders.models import Order
from tests.support.panel import Customer, Panel

T = TypeVar("T")


def all_at_once(tasks: Sequence[Callable[[], T]]) -> list[T]:
    """Run every task on its own thread, released together by a barrier.

    Each thread is ready (its HTTP client built) before any starts, so the requests
    really overlap instead of trickling in one by one.
    """
    barrier = threading.Barrier(len(tasks))

    def run(task: Callable[[], T]) -> T:
        barrier.wait(timeout=60)
        return task()

    with ThreadPoolExecutor(max_workers=len(tasks)) as pool:
        return list(pool.map(run, tasks))


def api_call(url: str, **form: Any) -> Callable[[], Any]:
    """A task that POSTs one API form on a fresh connection and returns the JSON answer."""
    data = {name: str(value) for name, value in form.items()}

    def call() -> Any:
        with httpx.Client(timeout=120) as client:
            response = client.post(url, data=data)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/json"
        return response.json()

    return call


def tally(answers: list[Any]) -> Counter[str]:
    """Answers by kind: "order" for an accepted add, else the error message (or the shape)."""
    counts: Counter[str] = Counter()
    for answer in answers:
        if isinstance(answer, dict) and "error" in answer:
            counts[answer["error"]] += 1
        elif isinstance(answer, dict) and len(answer) == 1:
            counts[next(iter(answer))] += 1
        else:
            counts[repr(answer)] += 1
    return counts


def orders_of(panel: Panel, customer: Customer) -> list[Order]:
    with panel.db.read() as session:
        return list(
            session.scalars(select(Order).where(Order.user_id == customer.id).order_by(Order.id))
        )


def ledger_rows(panel: Panel, customer: Customer, kind: str | None = None) -> list[LedgerEntry]:
    with panel.db.read() as session:
        query = select(LedgerEntry).where(LedgerEntry.user_id == customer.id)
        if kind is not None:
            query = query.where(LedgerEntry.kind == kind)
        return list(session.scalars(query.order_by(LedgerEntry.id)))


def ledger_count(panel: Panel) -> int:
    with panel.db.read() as session:
        return int(session.scalar(select(func.count()).select_from(LedgerEntry)) or 0)


def report(title: str, panel: Panel, **observed: object) -> str:
    """One line for ``pytest -s`` and for assertion messages."""
    line = f"[{panel.kind}] {title}: " + ", ".join(f"{k}={v}" for k, v in observed.items())
    print(line)
    return line
