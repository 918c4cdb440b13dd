from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from opensmm.db import Base, Money, UTCDateTime, utcnow
from opensmm.events import Message, describe
from opensmm.ledger import events as _events  # noqa: F401 - defines the codes read here

# Entry kinds.
DEPOSIT = "deposit"  # staff added funds (or took them back: a negative amount)
CHARGE = "charge"  # an order was paid
REFUND = "refund"  # an order's undelivered part was paid back
# A customer's own payment through a gateway: its credit, fee, bonus and any take-back
# (opensmm.payments.settle).
PAYMENT = "payment"
# Money a customer moved from their affiliate balance (opensmm.affiliates).
AFFILIATE = "affiliate"


class LedgerEntry(Base):
    """One balance movement. Rows are never updated or deleted (triggers enforce it)."""

    __tablename__ = "ledger_entries"
    __table_args__ = (Index("ix_ledger_entries_user_id", "user_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    amount: Mapped[Decimal] = mapped_column(Money)
    balance_after: Mapped[Decimal] = mapped_column(Money)
    kind: Mapped[str] = mapped_column(String(16))
    # What makes this movement unique: "order:12:charge", "order:12:refund:cancel", ...
    # A replayed event hits the unique index and moves no money.
    key: Mapped[str] = mapped_column(String(200), unique=True)
    # Free text a person typed (a staff memo), shown as typed; before codes (rows without
    # one) it held the entry's whole English sentence.
    memo: Mapped[str] = mapped_column(Text, default="")
    # What the entry says, translated when shown: a code of opensmm.ledger.events and its
    # parameters (opensmm.events).
    code: Mapped[str | None] = mapped_column(String(64))
    params: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    order_id: Mapped[int | None] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def description(self) -> Message:
        """What the entry says: ``entry.description.render(_)`` on a page."""
        return describe(self.code, {**(self.params or {}), "memo": self.memo}, self.memo)
