"""Who wants which mail, every notice given (once, under its key), and Telegram messages."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from opensmm.db import Base, Money, UTCDateTime, utcnow

QUEUED = "queued"
SENT = "sent"
FAILED = "failed"
STATUSES = (QUEUED, SENT, FAILED)


class NotificationPrefs(Base):
    """One account's choices; an account without a row has the defaults (see ``service``)."""

    __tablename__ = "notification_prefs"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    ticket_replies: Mapped[bool] = mapped_column(default=True)
    payments: Mapped[bool] = mapped_column(default=True)
    digest: Mapped[bool] = mapped_column(default=True)
    # Mail once when the balance falls below this; None: never.
    low_balance: Mapped[Decimal | None] = mapped_column(Money)
    # Set when the low-balance mail went out; cleared once the balance is back above.
    low_balance_sent: Mapped[bool] = mapped_column(default=False)
    # Staff only: the staff alerts (new tickets, held orders, providers, payments).
    staff_alerts: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Notice(Base):
    """One thing told, once: its key (``held:order:12``, ``digest:5:2026-11-29``…) is
    unique, so a second scan, or a second worker at the same moment, tells nothing again."""

    __tablename__ = "notices"
    __table_args__ = (Index("ix_notices_created_at", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TelegramMessage(Base):
    """A staff alert for the Telegram chat, sent by the worker with retries (like mail)."""

    __tablename__ = "telegram_outbox"
    __table_args__ = (
        CheckConstraint("status IN ('queued', 'sent', 'failed')", name="telegram_status_known"),
        Index("ix_telegram_outbox_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=QUEUED)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The Bot API's description or the error's kind; never the token.
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
