from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from opensmm.db import Base, UTCDateTime, utcnow

PENDING = "pending"
DELIVERED = "delivered"
FAILED = "failed"
STATES = (PENDING, DELIVERED, FAILED)


class WebhookDelivery(Base):
    """One change to tell one API key's webhook about, until its receiver answers 2xx.

    The body is built when it is sent (the order's status answer at that moment), so a
    delivery retried an hour later tells the truth of that hour; ``status`` is the status
    the change was to, for the log.
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_due", "state", "next_attempt_at"),
        Index("ix_webhook_deliveries_key_id", "key_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id"))
    kind: Mapped[str] = mapped_column(String(8))  # order, refill
    object_id: Mapped[int] = mapped_column()
    status: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16), default=PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_code: Mapped[int | None] = mapped_column()
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
