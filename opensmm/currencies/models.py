"""The currencies customers may choose to see amounts in, with their exchange rates."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from opensmm.db import Base, UTCDateTime, utcnow

SOURCE_TYPED = "typed"
SOURCE_FETCHED = "fetched"


class DisplayCurrency(Base):
    """One currency: how many of it one unit of the panel's currency buys.

    ``rate`` is the exact decimal text (``"0.92"``): rates are never floats, and one text
    column reads the same on SQLite and PostgreSQL.
    """

    __tablename__ = "display_currencies"

    code: Mapped[str] = mapped_column(String(3), primary_key=True)
    rate: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(8), default=SOURCE_TYPED)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
