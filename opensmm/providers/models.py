from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from opensmm.db import Base, Money, UTCDateTime, utcnow


class Provider(Base):
    """An upstream panel speaking API v2, and how the worker is getting on with it."""

    __tablename__ = "providers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    url: Mapped[str] = mapped_column(Text)
    # Sent with every call, so it is kept as given (unlike our own customers' keys).
    api_key: Mapped[str] = mapped_column(String(255))
    enabled: Mapped[bool] = mapped_column(default=True)
    # The last balance the provider reported, for staff.
    balance: Mapped[Decimal | None] = mapped_column(Money)
    currency: Mapped[str | None] = mapped_column(String(8))
    balance_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Consecutive failed calls (down, garbage, timeouts), and no call before ``backoff_until``.
    failures: Mapped[int] = mapped_column(default=0)
    backoff_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Sends refused for the whole account (not enough funds, bad key): no new order goes
    # out before ``send_paused_until``; status checks go on.
    send_failures: Mapped[int] = mapped_column(default=0)
    send_paused_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # What staff must know ("Not enough funds at the provider", "Invalid API key", ...).
    alert: Mapped[str | None] = mapped_column(Text)
    alert_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The provider answers API v2 with ``X-Opensmm-Idempotency: add`` (an opensmm): a resend
    # with the same ``idempotency_key`` is the same order, so an in-doubt send is resent.
    # Detected by ``provider add`` and ``provider balance``; never assumed.
    idempotent: Mapped[bool] = mapped_column(default=False)
    # The provider's status webhooks (docs/fulfillment.md): its signing secret, encrypted
    # (opensmm.providers.webhooks), and when the last good one came (polling slows down).
    webhook_secret: Mapped[str | None] = mapped_column(Text)
    webhook_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ProviderWebhookSeen(Base):
    """A provider's webhook already applied, by its signature: the same POST replayed
    within the five minutes it is valid is refused. Kept ten minutes."""

    __tablename__ = "provider_webhooks_seen"
    __table_args__ = (UniqueConstraint("provider_id", "mac", name="uq_provider_webhook_seen"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"))
    mac: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
