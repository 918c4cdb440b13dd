"""The hostile tests' view of a running panel: an attacker with a real, funded key, a
victim whose orders must stay untouched, and the checks every answer must pass."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import func, select

from opensmm.accounts.models import User
from opensmm.ledger.models import LedgerEntry
from opensmm.orders.models import Order, OrderEvent
from opensmm.refills.models import Refill
from tests.support.panel import Customer, Panel

FUNDS = Decimal("1000.00")
# What an answer must never contain: a stack trace or an internal detail.
LEAKS = ("Traceback", 'File "/', "sqlalchemy", "psycopg", "sqlite3", "Internal error")
# What the server log must never contain after a hostile request.
LOG_FAILURES = ("Traceback", '"level":"error"', '"level": "error"', "API request failed")


@dataclass(frozen=True)
class Snapshot:
    attacker_balance: Decimal
    prober_balance: Decimal
    ledger_entries: int
    orders: int
    refills: int
    order_events: int
    victim_orders: tuple[tuple[int, str, Decimal, int], ...]


@dataclass
class Target:
    panel: Panel
    attacker: Customer  # funded; the order properties may place (valid) orders with it
    prober: Customer  # funded, never has an order: any id it names is someone else's
    victim: Customer
    default: int  # Default: drip-feed, refill and cancel, min 10, max 10000
    comments: int  # Custom Comments
    mentions: int  # Mentions with Hashtags
    subscription: int  # Subscriptions
    huge: int  # Default with drip-feed and the largest bounds the catalog allows
    victim_orders: list[int]
    victim_refill: int
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=60))
    _log_offset: int = 0

    @classmethod
    def build(cls, panel: Panel) -> Target:
        victim = panel.customer(balance="100")
        default = panel.service(
            name="Followers", rate="0.90", dripfeed=True, refill=True, cancel=True
        )
        pending = panel.api(
            victim.key, "add", service=default, link="https://v.test/1", quantity=100
        )
        done = panel.api(victim.key, "add", service=default, link="https://v.test/2", quantity=100)
        panel.set_order(done["order"], status="Completed")
        refill = panel.api(victim.key, "refill", order=done["order"])
        target = cls(
            panel=panel,
            attacker=panel.customer(balance=FUNDS),
            prober=panel.customer(balance=FUNDS),
            victim=victim,
            default=default,
            comments=panel.service(
                name="Comments", type="Custom Comments", rate="5", min_quantity=1, max_quantity=50
            ),
            mentions=panel.service(
                name="Mentions",
                type="Mentions with Hashtags",
                rate="2",
                min_quantity=10,
                max_quantity=1000,
            ),
            subscription=panel.service(
                name="Auto likes",
                type="Subscriptions",
                rate="1",
                min_quantity=10,
                max_quantity=1000,
            ),
            huge=panel.service(
                name="Views",
                rate="0.00001",
                dripfeed=True,
                min_quantity=1,
                max_quantity=1_000_000_000,
            ),
            victim_orders=[pending["order"], done["order"]],
            victim_refill=int(refill["refill"]),
        )
        target.new_log()
        return target

    @property
    def url(self) -> str:
        return self.panel.api_url

    @property
    def services(self) -> list[int]:
        return [self.default, self.comments, self.mentions, self.subscription, self.huge]

    def ids(self) -> list[int]:
        """Every id that exists here: what a guessing attacker would try first."""
        return [*self.victim_orders, self.victim_refill, *self.services]

    # --- the checks ---------------------------------------------------------
    def snapshot(self) -> Snapshot:
        """Everything a request could have written, in two statements."""

        def count(model: Any) -> Any:
            return select(func.count()).select_from(model).scalar_subquery()

        def balance(customer: Customer) -> Any:
            return select(User.balance).where(User.id == customer.id).scalar_subquery()

        with self.panel.db.read() as session:
            row = session.execute(
                select(
                    balance(self.attacker),
                    balance(self.prober),
                    count(LedgerEntry),
                    count(Order),
                    count(Refill),
                    count(OrderEvent),
                )
            ).one()
            victims = session.execute(
                select(Order.id, Order.status, Order.refunded, Order.remains)
                .where(Order.user_id == self.victim.id)
                .order_by(Order.id)
            ).all()
        return Snapshot(
            attacker_balance=row[0],
            prober_balance=row[1],
            ledger_entries=row[2],
            orders=row[3],
            refills=row[4],
            order_events=row[5],
            victim_orders=tuple(tuple(victim) for victim in victims),
        )

    def new_log(self) -> str:
        """What the server logged since the last call."""
        assert self.panel.log_path is not None
        with self.panel.log_path.open("rb") as log:
            log.seek(self._log_offset)
            fresh = log.read()
        self._log_offset += len(fresh)
        return fresh.decode("utf-8", "replace")

    def send(self, method: str = "POST", **request: Any) -> httpx.Response:
        return self.http.request(method, self.url, **request)


def check_answer(response: httpx.Response) -> Any:
    """The transport rules of spec §1 that hold for every request, whatever it was."""
    assert response.status_code == 200, (response.status_code, response.text[:300])
    assert response.headers.get_list("content-type") == ["application/json"], response.headers
    answer = json.loads(response.text)
    for leak in LEAKS:
        assert leak not in response.text, response.text[:500]
    if isinstance(answer, dict) and "error" in answer:
        assert isinstance(answer["error"], str) and answer["error"].strip(), answer
        assert len(answer) == 1, answer
    return answer


def refusal(answer: Any) -> str:
    """The error message of a refused request (fails if the request was not refused)."""
    assert isinstance(answer, dict) and set(answer) == {"error"}, answer
    message: str = answer["error"]
    return message


def wrote_nothing(target: Target, before: Snapshot, context: object) -> None:
    after = target.snapshot()
    assert after == before, f"the request changed data: {before} -> {after}; {context!r}"[:2000]
    quiet_log(target, context)


def quiet_log(target: Target, context: object) -> None:
    """Nothing failed on the server since the last look at its log."""
    log = target.new_log()
    for failure in LOG_FAILURES:
        assert failure not in log, f"server log after {context!r}:\n{log[-3000:]}"[:4000]
