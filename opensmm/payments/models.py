"""Payment methods, payments, and what gateways said about them.

A payment's money is never kept in a column that is updated in place and trusted: the
columns ``paid``, ``fee``, ``bonus`` and ``reversed`` say how much of each the ledger already
holds for it (written in the same transaction as the ledger entries, whose unique keys are
the real guard). ``paid_target``, ``refund_target`` and ``disputed`` are the facts the gateway
reported, each only ever growing; ``opensmm.payments.settle`` turns facts into state and
entries, so callbacks that arrive twice, late or out of order end in the same place.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from opensmm.db import Base, Money, UTCDateTime, utcnow
from opensmm.payments.gateways.base import PaymentState

STATES = tuple(state.value for state in PaymentState)
# States a payment leaves only by a later event from its gateway.
SETTLED = frozenset({PaymentState.PAID, PaymentState.REFUNDED, PaymentState.DISPUTED})
OPEN = frozenset({PaymentState.PENDING, PaymentState.PARTIALLY_PAID})


class PaymentMethod(Base):
    """A gateway account the panel takes money through, as staff configured it."""

    __tablename__ = "payment_methods"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The name in URLs (the callback address) and in the CLI: lower-case letters, digits, -.
    name: Mapped[str] = mapped_column(String(40), unique=True)
    gateway: Mapped[str] = mapped_column(String(32))
    # What customers see in the list of methods ("Card", "Bank transfer"); empty: the name.
    title: Mapped[str] = mapped_column(String(80), default="")
    enabled: Mapped[bool] = mapped_column(default=True)
    min_amount: Mapped[Decimal] = mapped_column(Money, default=Decimal(1))
    max_amount: Mapped[Decimal | None] = mapped_column(Money)
    fee_percent: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    bonus_percent: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    # The bonus applies to deposits of at least this much; None: to every deposit.
    bonus_from: Mapped[Decimal | None] = mapped_column(Money)
    # The gateway's settings; the credentials among them encrypted (opensmm.payments.secrets).
    settings: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    # Instructions shown to customers, by language code ("en", "ar", ...).
    instructions: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    position: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def label(self) -> str:
        return self.title or self.name


class Payment(Base):
    __tablename__ = "payments"
    __table_args__ = (
        CheckConstraint(
            "state IN ('pending', 'paid', 'partially_paid', 'expired', 'failed', "
            "'refunded', 'disputed')",
            name="state_known",
        ),
        Index("ix_payments_user_id", "user_id", "id"),
        Index("ix_payments_state_poll", "state", "next_poll_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Our id at the gateway and in the customer's return address: random, so that neither
    # reveals how many payments the panel takes nor lets one guess another's page.
    token: Mapped[str] = mapped_column(String(32), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    method_id: Mapped[int] = mapped_column(ForeignKey("payment_methods.id"))
    gateway: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16), default=PaymentState.PENDING.value)
    # What the customer was asked to pay, in ``currency`` (the panel's).
    amount: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(8))
    # The method's terms when the payment was made (a later edit does not change them).
    fee_percent: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    bonus_percent: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    bonus_from: Mapped[Decimal | None] = mapped_column(Money)
    # Facts reported by the gateway (or staff, for manual payments); only ever grow.
    paid_target: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    refund_target: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    disputed: Mapped[bool] = mapped_column(default=False)
    # "expired" or "failed" once the gateway said so (money arriving later still counts).
    closed_as: Mapped[str | None] = mapped_column(String(16))
    # What the ledger holds for this payment (mirrors of its entries, same transaction).
    paid: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    fee: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    bonus: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    reversed: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    # A coupon's value on this payment, fixed when it started (opensmm.coupons), and what
    # the ledger holds of it (credited once the payment is paid in full).
    coupon_value: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    coupon: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    # Refunded or disputed money the customer had already spent: owed, for staff.
    shortfall: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    # The gateway's id for the payment (manual: the customer's reference).
    reference: Mapped[str | None] = mapped_column(String(200))
    redirect_url: Mapped[str | None] = mapped_column(Text)
    # Something for a person to look at (an over- or underpayment, a shortfall, a rejection).
    needs_review: Mapped[bool] = mapped_column(default=False)
    note: Mapped[str] = mapped_column(Text, default="")
    last_error: Mapped[str] = mapped_column(Text, default="")
    next_poll_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    poll_count: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def credited(self) -> Decimal:
        """What the customer's balance received for it, net of refunds and disputes."""
        return self.paid - self.fee + self.bonus + self.coupon - self.reversed


class PaymentReference(Base):
    """Every id a gateway uses for one of our payments, to find it from any callback."""

    __tablename__ = "payment_references"
    __table_args__ = (UniqueConstraint("method_id", "reference", name="uq_payment_reference"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    method_id: Mapped[int] = mapped_column(ForeignKey("payment_methods.id"))
    reference: Mapped[str] = mapped_column(String(200))
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), index=True)


class PaymentEvent(Base):
    """What a gateway (or a person) said about a payment, once per event id, as verified."""

    __tablename__ = "payment_events"
    __table_args__ = (UniqueConstraint("method_id", "event_id", name="uq_payment_event"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    method_id: Mapped[int] = mapped_column(ForeignKey("payment_methods.id"))
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), index=True)
    # callback, poll, return (the customer came back), staff, cli
    source: Mapped[str] = mapped_column(String(16))
    event_id: Mapped[str] = mapped_column(String(200))
    event_type: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    amount: Mapped[Decimal | None] = mapped_column(Money)
    currency: Mapped[str | None] = mapped_column(String(8))
    note: Mapped[str] = mapped_column(Text, default="")
    raw: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PaymentProof(Base):
    """A manual payment's proof (a receipt's picture), served to its owner and staff only."""

    __tablename__ = "payment_proofs"

    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), primary_key=True)
    content_type: Mapped[str] = mapped_column(String(32))
    data: Mapped[bytes] = mapped_column(LargeBinary)
