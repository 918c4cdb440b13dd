"""The audit log: every staff action, who did it and when."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from opensmm.db import Base, UTCDateTime, utcnow


class AuditEntry(Base):
    """Append-only, like the ledger: written in the same unit of work as the action."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_actor_id", "actor_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor: Mapped[str] = mapped_column(String(64))
    # A dotted name: "funds.adjust", "user.suspend", "service.edit", ...
    action: Mapped[str] = mapped_column(String(64), index=True)
    # What was acted on: "user:12", "order:5", "service:3".
    target: Mapped[str] = mapped_column(String(200), default="")
    details: Mapped[str] = mapped_column(Text, default="")
    ip: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
