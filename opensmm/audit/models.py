"""The audit log's table: who did what, through which door, and from where."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from opensmm.db import Base, UTCDateTime, utcnow

# The doors a staff action comes through.
DOOR_WEB = "web"
DOOR_CLI = "cli"
DOOR_API = "api"


class AuditEntry(Base):
    """Append-only, like the ledger: written in the same unit of work as the action.

    The row holds an action code and its parameters, never an English sentence: it is
    translated when shown (``opensmm.audit.actions.describe``).
    """

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_actor_id", "actor_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # The staff user, when a person logged in to the back office did it.
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Who, as shown: a staff user's name, "cli:<os user>", "key:<id>".
    actor: Mapped[str] = mapped_column(String(64))
    door: Mapped[str] = mapped_column(String(8), default=DOOR_WEB)
    # A dotted code: "funds.adjust", "user.suspend", "service.edit", ...
    action: Mapped[str] = mapped_column(String(64), index=True)
    # What was acted on: "user:12", "order:5", "service:3".
    target: Mapped[str] = mapped_column(String(200), default="")
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    ip: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
