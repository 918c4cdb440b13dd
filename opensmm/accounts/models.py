from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from opensmm.db import Base, Money, UTCDateTime, utcnow

USER_ACTIVE = "active"
USER_SUSPENDED = "suspended"


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        # The last line of defence: no code path can take a balance below zero.
        CheckConstraint("balance >= 0", name="balance_not_negative"),
        CheckConstraint("status IN ('active', 'suspended')", name="status_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str | None] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    is_admin: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(16), default=USER_ACTIVE)
    balance: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    # Percent off every rate for this customer (a reseller's negotiated price).
    discount_percent: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    # The language its owner chose ("" until they do: then the browser's, then the panel's).
    language: Mapped[str] = mapped_column(String(8), default="")
    # The display currency its owner chose ("": the panel's own; opensmm.currencies).
    display_currency: Mapped[str] = mapped_column(String(3), default="")
    # When its owner proved they read ``email`` (a link mailed to it); None: not yet, or
    # the address changed since.
    email_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When its owner accepted the terms at sign-up, and the terms' version they saw (None:
    # the panel had no terms then, or staff created the account).
    terms_accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    terms_version: Mapped[int | None] = mapped_column()


class ApiKey(Base):
    """An API key, stored only as its SHA-256: keys are random, so a fast hash is enough."""

    __tablename__ = "api_keys"
    __table_args__ = (Index("ix_api_keys_user_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The first characters, so that people can tell their keys apart in lists.
    prefix: Mapped[str] = mapped_column(String(8))
    label: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Addresses and networks this key may be used from ("203.0.113.7,198.51.100.0/24");
    # None: anywhere. Written only through opensmm.security.network.normalize_allow_list.
    allowed_ips: Mapped[str | None] = mapped_column(Text)
    # Where the key's status webhooks go (opensmm.webhooks), and the secret they are signed
    # with, encrypted at rest; None: no webhook.
    webhook_url: Mapped[str | None] = mapped_column(Text)
    webhook_secret: Mapped[str | None] = mapped_column(Text)


RESET_LINK = "reset"
VERIFY_LINK = "verify"


class AccountToken(Base):
    """A single-use link mailed to a user (password reset, email verification). The link
    holds a random token; only its SHA-256 is stored, so a leaked database opens nothing."""

    __tablename__ = "account_tokens"
    __table_args__ = (
        CheckConstraint("purpose IN ('reset', 'verify')", name="token_purpose_known"),
        Index("ix_account_tokens_user_id", "user_id", "purpose"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    purpose: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The address a verification link proves (the account's email may change meanwhile).
    email: Mapped[str | None] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
