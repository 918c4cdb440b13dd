"""The stored figures: one row per service and one per provider, rewritten by the worker's
refresh (``opensmm.scorecards.service.refresh``); pages only read them."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from opensmm.db import Base, UTCDateTime, utcnow


def percent(part: int, whole: int) -> Decimal | None:
    """``part`` of ``whole`` in percent, to 0.1; None when there is nothing to count."""
    if whole <= 0:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"))


class _Figures:
    """The counts both kinds of rows carry, over the orders finished in the window."""

    # Orders that ended (Completed, Partial or Canceled) in the window ...
    finished: Mapped[int] = mapped_column(default=0)
    # ... of which Partial, Canceled, and Completed or Partial with a refill asked (by a
    # person: auto-refills are not counted).
    partial: Mapped[int] = mapped_column(default=0)
    canceled: Mapped[int] = mapped_column(default=0)
    refilled: Mapped[int] = mapped_column(default=0)
    # Running orders with no progress for longer than the panel's ``stuck_hours``, now.
    stuck: Mapped[int] = mapped_column(default=0)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def partial_rate(self) -> Decimal | None:
        return percent(self.partial, self.finished)

    @property
    def cancel_rate(self) -> Decimal | None:
        return percent(self.canceled, self.finished)

    @property
    def refill_rate(self) -> Decimal | None:
        """Refilled orders among those that delivered (Completed or Partial)."""
        return percent(self.refilled, self.finished - self.canceled)


class ServiceScore(_Figures, Base):
    __tablename__ = "service_scores"

    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"), primary_key=True)
    # The mean of (finished - placed) × 1000 / units over the service's last 10 Completed
    # orders, in whole seconds; None before its first completed order.
    average_seconds: Mapped[int | None] = mapped_column()
    # How many orders that mean is made of (up to 10).
    average_of: Mapped[int] = mapped_column(default=0)


class ProviderScore(_Figures, Base):
    __tablename__ = "provider_scores"

    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"), primary_key=True)
