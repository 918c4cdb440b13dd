"""After the campaign: the books, checked against what clients were told and what the upstream
panel received."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select

from opensmm.accounts.models import User
from opensmm.db import Database
from opensmm.ledger import service as ledger
from opensmm.orders.models import Order
from tests.campaign.clients import Account, Acknowledged


@dataclass
class Books:
    acknowledged: int
    found: int
    missing: list[int]
    orders_in_db: int
    sent_upstream: int
    held: int
    not_yet_sent: int
    upstream_orders: int
    double_sends: int
    upstream_unknown: int
    upstream_id_mismatches: int
    held_but_at_upstream: int
    ledger_differences: int
    paid: Decimal
    charged: Decimal
    refunded: Decimal
    statuses: Counter[str]
    send_states: Counter[str]

    @property
    def money_difference(self) -> Decimal:
        return self.paid - (self.charged - self.refunded)

    @property
    def ok(self) -> bool:
        return (
            not self.missing
            and self.double_sends == 0
            and self.upstream_unknown == 0
            and self.upstream_id_mismatches == 0
            and self.ledger_differences == 0
            and self.money_difference == 0
        )


def check_books(
    panel: Database,
    upstream: Database,
    upstream_user_id: int,
    accounts: list[Account],
    funds: Decimal,
    acknowledged: list[Acknowledged],
) -> Books:
    account_ids = [account.id for account in accounts]
    with panel.read() as session:
        rows = session.execute(
            select(
                Order.id, Order.user_id, Order.link, Order.upstream_id, Order.send_state,
                Order.charge, Order.refunded, Order.status,
            )
        ).all()  # fmt: skip
        balances = dict(
            session.execute(select(User.id, User.balance).where(User.id.in_(account_ids))).all()
        )
        ledger_differences = len(ledger.check(session))
    with upstream.read() as session:
        upstream_rows = session.execute(
            select(Order.id, Order.link).where(Order.user_id == upstream_user_id)
        ).all()

    orders = {row.id: row for row in rows}
    missing = [
        ack.order_id
        for ack in acknowledged
        if ack.order_id not in orders
        or orders[ack.order_id].user_id != ack.account_id
        or orders[ack.order_id].link != ack.link
    ]
    # Every link is unique to one order here, so the upstream's orders per link count the sends.
    sends_per_link = Counter(link for _, link in upstream_rows)
    upstream_by_id = dict(upstream_rows)
    links_here = {row.link: row for row in rows}
    held_but_at_upstream = sum(
        1 for row in rows if row.send_state == "held" and sends_per_link[row.link] > 0
    )
    mismatches = sum(
        1
        for row in rows
        if row.upstream_id is not None and upstream_by_id.get(row.upstream_id) != row.link
    )
    paid = sum((funds - balances[account_id] for account_id in account_ids), Decimal(0))
    mine = [row for row in rows if row.user_id in set(account_ids)]
    return Books(
        acknowledged=len(acknowledged),
        found=len(acknowledged) - len(missing),
        missing=missing,
        orders_in_db=len(rows),
        sent_upstream=sum(1 for row in rows if row.upstream_id is not None),
        held=sum(1 for row in rows if row.send_state == "held"),
        # Still to send (a canceled order never leaves: it stays "new", canceled and refunded).
        not_yet_sent=sum(
            1 for row in rows if row.send_state in ("new", "sending") and row.status != "Canceled"
        ),
        upstream_orders=len(upstream_rows),
        double_sends=sum(count - 1 for count in sends_per_link.values() if count > 1),
        upstream_unknown=sum(1 for link in sends_per_link if link not in links_here),
        upstream_id_mismatches=mismatches,
        held_but_at_upstream=held_but_at_upstream,
        ledger_differences=ledger_differences,
        paid=paid,
        charged=sum((row.charge for row in mine), Decimal(0)),
        refunded=sum((row.refunded for row in mine), Decimal(0)),
        statuses=Counter(row.status for row in rows),
        send_states=Counter(f"{row.send_state or 'none'}/{row.status}" for row in rows),
    )
