"""The uploaded pictures and the content pages, stored in the database so that every
process and host serves the same ones."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from opensmm.db import Base, UTCDateTime, utcnow


class PanelAsset(Base):
    """The logo or the favicon: its bytes, checked type and content hash (its ETag)."""

    __tablename__ = "panel_assets"

    name: Mapped[str] = mapped_column(String(16), primary_key=True)
    content_type: Mapped[str] = mapped_column(String(32))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    etag: Mapped[str] = mapped_column(String(32))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ContentPage(Base):
    """One public text (home, terms, ...) in one language, as staff wrote it in Markdown.

    ``version`` counts the saves of the page in any language: a customer's acceptance of the
    terms records the version they saw.
    """

    __tablename__ = "content_pages"

    slug: Mapped[str] = mapped_column(String(16), primary_key=True)
    language: Mapped[str] = mapped_column(String(8), primary_key=True)
    body: Mapped[str] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
