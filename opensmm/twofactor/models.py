"""What two-factor log-in keeps: each user's TOTP secret (encrypted), their recovery codes
(hashed), and the log-ins waiting for their second step."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from opensmm.db import Base, UTCDateTime, utcnow


class TwoFactor(Base):
    """A user's authenticator. ``confirmed_at`` is None while the user is enrolling (the QR
    code shown, no code typed yet): only a confirmed row asks for a code at log-in."""

    __tablename__ = "two_factor"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    # The base32 TOTP secret as a Fernet token (opensmm.security.secrets, purpose "totp").
    secret_encrypted: Mapped[str] = mapped_column(String(255))
    # The time step (30 s) of the last code accepted: a code of that step or an earlier one
    # is refused, so a code seen over a shoulder cannot be used again in its window.
    last_step: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RecoveryCode(Base):
    """One single-use recovery code, stored only as its SHA-256 (see service.hash_code)."""

    __tablename__ = "two_factor_recovery_codes"
    __table_args__ = (Index("ix_two_factor_recovery_codes_user_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LoginChallenge(Base):
    """A log-in whose password was right and whose code is awaited. Not a session: its
    token (in its own cookie, only its SHA-256 here) opens no page but the code form."""

    __tablename__ = "login_challenges"
    __table_args__ = (Index("ix_login_challenges_user_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    next_path: Mapped[str] = mapped_column(String(1000), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
