"""The settings' table, and the stamp that tells every process when to read it again."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from opensmm.db import Base, UTCDateTime, utcnow


class PanelSetting(Base):
    """A value set by staff; a setting without a row has its registry default."""

    __tablename__ = "panel_settings"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SettingsStamp(Base):
    """One row whose ``stamp`` changes with every change to ``panel_settings``.

    Set to a new random value by database triggers (migration 0006), whoever writes, as
    ``catalog_stamp`` is: a process compares it with the stamp of its cached values and
    reads the settings again when it differs, so a change shows at once everywhere.
    """

    __tablename__ = "settings_stamp"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    stamp: Mapped[int] = mapped_column(BigInteger)
