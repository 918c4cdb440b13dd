"""Admin API tokens: random, shown once, stored only as their SHA-256."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from opensmm.db import Base, UTCDateTime, utcnow

READ = "read"
WRITE = "write"
SCOPES = (READ, WRITE)


class AdminToken(Base):
    """A staff automation's credential: ``read`` (GET only) or ``write`` (everything)."""

    __tablename__ = "admin_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    scope: Mapped[str] = mapped_column(String(8))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The first characters, so that people can tell their tokens apart in lists.
    prefix: Mapped[str] = mapped_column(String(12))
    # Who made it: "cli:<os user>" or a staff member's name.
    created_by: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
