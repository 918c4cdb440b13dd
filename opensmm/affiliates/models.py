"""Affiliates: a customer's referral code and affiliate balance, who referred whom, the
commission each referred deposit earned, and the affiliate balance's append-only entries.

The affiliate balance moves like the panel balance: an entry under a unique key (a replay
inserts nothing and moves nothing), then ``balance = balance + x`` guarded by
``balance + x >= 0`` (and a CHECK). ``affiliate_commissions`` mirrors, per deposit, what the
entries hold for it, as ``payments`` does for the ledger.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from opensmm.affiliates import events as _events  # noqa: F401 - defines the codes read here
from opensmm.db import Base, Money, UTCDateTime, utcnow

COMMISSION = "commission"
REVERSAL = "reversal"
TRANSFER = "transfer"


class Affiliate(Base):
    __tablename__ = "affiliates"
    __table_args__ = (CheckConstraint("balance >= 0", name="balance_not_negative"),)

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    # The referral link's code (/r/{code}): random, so it tells nothing about the account.
    code: Mapped[str] = mapped_column(String(16), unique=True)
    # Set by staff for this customer; None: the panel's ``affiliate_percent``.
    percent: Mapped[Decimal | None] = mapped_column(Money)
    balance: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    visits: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Referral(Base):
    """A customer who signed up through another's link."""

    __tablename__ = "referrals"
    __table_args__ = (Index("ix_referrals_referrer_id", "referrer_id", "user_id"),)

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    referrer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AffiliateCommission(Base):
    """What one referred deposit earned its referrer, and what was taken back."""

    __tablename__ = "affiliate_commissions"
    __table_args__ = (Index("ix_affiliate_commissions_affiliate", "affiliate_id", "payment_id"),)

    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), primary_key=True)
    affiliate_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # The percent when the deposit was first credited (a later change does not apply).
    percent: Mapped[Decimal] = mapped_column(Money)
    # The deposit's credit the commission was computed on (paid less fee).
    base: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    amount: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    reversed: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    # Taken back from a balance that no longer held it: owed, for staff.
    shortfall: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AffiliateEntry(Base):
    """One movement of an affiliate balance. Rows are never updated or deleted."""

    __tablename__ = "affiliate_entries"
    __table_args__ = (Index("ix_affiliate_entries_user_id", "user_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    amount: Mapped[Decimal] = mapped_column(Money)
    balance_after: Mapped[Decimal] = mapped_column(Money)
    kind: Mapped[str] = mapped_column(String(16))
    # "affiliate:payment:12", "affiliate:payment:12:reversal", "affiliate:transfer:…"
    key: Mapped[str] = mapped_column(String(200), unique=True)
    payment_id: Mapped[int | None] = mapped_column()
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
