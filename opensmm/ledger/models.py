from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from opensmm.db import Base, Money, UTCDateTime, utcnow

# Entry kinds.
DEPOSIT = "deposit"  # staff added funds (or took them back: a negative amount)
CHARGE = "charge"  # an order was paid
REFUND = "refund"  # an order's undelivered part was paid back


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
    memo: Mapped[str] = mapped_column(Text, default="")
    order_id: Mapped[int | None] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
