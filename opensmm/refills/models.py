from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from opensmm.db import Base, UTCDateTime, utcnow
from opensmm.fulfillment.states import HELD
from opensmm.refills import statuses as rs


class Refill(Base):
    __tablename__ = "refills"
    __table_args__ = (Index("ix_refills_send_state", "send_state", "next_poll_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default=rs.PENDING)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Asked by auto-refill (opensmm.refills.auto), not by a person: the scorecards' refill
    # rate counts only the others.
    automatic: Mapped[bool] = mapped_column(default=False)

    # --- fulfillment: a refill of an order that went to a provider (or the simulator)
    # travels there too, with the same states as an order's send (see Order).
    send_state: Mapped[str | None] = mapped_column(String(10))
    upstream_id: Mapped[int | None] = mapped_column(BigInteger)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    held_reason: Mapped[str | None] = mapped_column(Text)
    alert: Mapped[str | None] = mapped_column(Text)
    next_poll_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def is_held(self) -> bool:
        """Held for a person (a send in doubt, or refused): see ``held_reason``."""
        return self.send_state == HELD
