"""What the web pages keep in the database: log-in sessions, log-in attempts, the secret."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from opensmm.db import Base, UTCDateTime, utcnow


class WebSession(Base):
    """A logged-in browser. The cookie holds a random token; only its SHA-256 is stored,
    so a leaked database does not log anyone in, and logging out really ends the session."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # A secret to show once on the next page (a new API key, a webhook secret), after a
    # POST-redirect-GET: encrypted with a key derived from the session token, which only the
    # browser holds, and cleared when shown (opensmm.web.sessions.take_reveal).
    reveal: Mapped[str | None] = mapped_column(Text)


class LoginAttempt(Base):
    """One log-in try, kept a while so that guessing passwords can be slowed down."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_name", "name", "created_at"),
        Index("ix_login_attempts_ip", "ip", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(254))
    ip: Mapped[str] = mapped_column(String(64))
    succeeded: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AppSecret(Base):
    """Secrets generated on first start (when the settings give none)."""

    __tablename__ = "app_secrets"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
