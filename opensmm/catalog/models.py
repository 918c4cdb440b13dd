from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from opensmm.db import Base, Money, UTCDateTime, utcnow


class Category(Base):
    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    position: Mapped[int] = mapped_column(default=0)
    # Its platform's icon: "" guessed from the name, "none" the generic icon, else a slug of
    # ``opensmm.catalog.platforms.PLATFORMS`` (staff's choice).
    platform: Mapped[str] = mapped_column(String(32), default="", server_default="")


class Service(Base):
    __tablename__ = "services"
    __table_args__ = (
        CheckConstraint("rate >= 0", name="rate_not_negative"),
        CheckConstraint("min_quantity >= 1 AND max_quantity >= min_quantity", name="bounds"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id"), index=True)
    name: Mapped[str] = mapped_column(String(300))
    type: Mapped[str] = mapped_column(String(40), default="Default")
    rate: Mapped[Decimal] = mapped_column(Money)
    min_quantity: Mapped[int]
    max_quantity: Mapped[int]
    refill: Mapped[bool] = mapped_column(default=False)
    refill_days: Mapped[int] = mapped_column(default=30)
    # Auto-refill: the worker requests a refill of each finished order every this many
    # days, inside the refill window (opensmm.refills.auto); None: off.
    auto_refill_days: Mapped[int | None] = mapped_column()
    cancel: Mapped[bool] = mapped_column(default=False)
    dripfeed: Mapped[bool] = mapped_column(default=False)
    # Refuse a second running order for the same link (the spec's "active order" error).
    one_active_per_link: Mapped[bool] = mapped_column(default=False)
    description: Mapped[str] = mapped_column(Text, default="")
    enabled: Mapped[bool] = mapped_column(default=True)
    position: Mapped[int] = mapped_column(default=0)
    # How orders are fulfilled: "manual", "provider" or "simulator" (opensmm.fulfillment).
    fulfillment: Mapped[str] = mapped_column(String(16), default="manual")
    # For "provider": route 1 of ``service_routes`` (which provider, its own id for this
    # service, what it charges us per 1000 as last seen), kept equal to it by
    # ``opensmm.catalog.routes`` so that price sync and imports read one place.
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id"), index=True)
    provider_service_id: Mapped[int | None] = mapped_column(BigInteger)
    provider_rate: Mapped[Decimal | None] = mapped_column(Money)
    # Set for imported services: ``provider sync`` reprices them at cost plus this percent.
    markup_percent: Mapped[Decimal | None] = mapped_column(Money)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class ServiceRoute(Base):
    """One way to fulfil a provider service: a provider, its service id, its cost per 1000
    (per package). A service's routes are tried in ``position`` order: when one refuses an
    order in a way that proves nothing was created, the order goes to the next
    (``opensmm.fulfillment.routing``)."""

    __tablename__ = "service_routes"
    __table_args__ = (
        UniqueConstraint("service_id", "provider_id", "provider_service_id"),
        CheckConstraint("provider_service_id >= 1", name="upstream_service_positive"),
        CheckConstraint("cost IS NULL OR cost >= 0", name="cost_not_negative"),
        Index("ix_service_routes_service", "service_id", "position"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"))
    position: Mapped[int]
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"), index=True)
    provider_service_id: Mapped[int] = mapped_column(BigInteger)
    # What this provider charges us per 1000 (per package), as last seen (None: unknown).
    cost: Mapped[Decimal | None] = mapped_column(Money)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CatalogStamp(Base):
    """One row whose ``stamp`` changes with every change to services or categories.

    Database triggers (migration 0005) set a new random stamp on every INSERT, UPDATE and
    DELETE of those tables, whoever makes it (the back office, ``provider sync``, plain
    SQL). The API's ``services`` answer is rendered once per stamp: the stamp is read with
    the caller's key in the same statement, so a change shows in the very next answer. A
    random stamp, not a counter: a restored backup brings back its own stamp with its own
    catalog, never a number a running panel already used for another catalog.
    """

    __tablename__ = "catalog_stamp"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    stamp: Mapped[int] = mapped_column(BigInteger)


class CatalogUpdate(Base):
    """A change customers see on the Updates page: a new service, a new rate, a service
    disabled or enabled again. Written by ``opensmm.catalog.updates`` when the change is
    flushed, in the same transaction, whichever door made it (staff, CLI, provider sync)."""

    __tablename__ = "catalog_updates"

    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"), index=True)
    # "new", "rate", "disabled", "enabled"
    kind: Mapped[str] = mapped_column(String(16))
    service_name: Mapped[str] = mapped_column(String(300))
    old_rate: Mapped[Decimal | None] = mapped_column(Money)
    new_rate: Mapped[Decimal | None] = mapped_column(Money)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    # Set on a service being created, whose id the same flush assigns.
    service: Mapped[Service] = relationship(lazy="raise")
