"""Coupons and their uses.

A use is reserved when a payment starts (one row per payment), becomes ``used`` when the
payment is settled as paid (its value then has its own ledger entry, ``payment:{id}:coupon``)
and ``released`` when the payment ends without money. Limits count the reserved and used
rows, read with the coupon's row locked, so two payments racing for the last use cannot
both get it.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from opensmm.db import Base, Money, UTCDateTime, utcnow

AMOUNT = "amount"
PERCENT = "percent"

RESERVED = "reserved"
USED = "used"
RELEASED = "released"
# The uses that count against a coupon's limits.
HELD = (RESERVED, USED)


class Coupon(Base):
    __tablename__ = "coupons"
    __table_args__ = (
        CheckConstraint("kind IN ('amount', 'percent')", name="kind_known"),
        CheckConstraint("value > 0", name="value_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Upper-case, as customers type it in any case.
    code: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[str] = mapped_column(String(8))
    # An amount in the panel's currency, or a percent of the deposit.
    value: Mapped[Decimal] = mapped_column(Money)
    # None: no limit.
    max_uses: Mapped[int | None] = mapped_column()
    per_customer: Mapped[int | None] = mapped_column()
    # Usable before this moment (the start of the day after the date staff typed, UTC).
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    min_deposit: Mapped[Decimal | None] = mapped_column(Money)
    enabled: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CouponUse(Base):
    __tablename__ = "coupon_uses"
    __table_args__ = (
        CheckConstraint("state IN ('reserved', 'used', 'released')", name="state_known"),
        Index("ix_coupon_uses_coupon_user", "coupon_id", "user_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    coupon_id: Mapped[int] = mapped_column(ForeignKey("coupons.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), unique=True)
    # What the coupon gives on this payment, fixed when it started (the figure shown).
    value: Mapped[Decimal] = mapped_column(Money)
    state: Mapped[str] = mapped_column(String(16), default=RESERVED)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
