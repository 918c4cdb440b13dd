from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column

from opensmm.db import Base, Money, UTCDateTime, utcnow
from opensmm.events import Actor, Message, describe
from opensmm.fulfillment.states import HELD
from opensmm.orders import events as _events  # noqa: F401 - defines the codes read here
from opensmm.orders import statuses as st


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint("refunded >= 0 AND refunded <= charge", name="refund_within_charge"),
        Index("ix_orders_user_id", "user_id", "id"),
        Index("ix_orders_status", "status"),
        Index("ix_orders_service_link", "service_id", "link"),
        # The worker's queue: orders to send (``new``) and to check (``sent``), by due time.
        Index("ix_orders_send_state", "send_state", "next_poll_at"),
        # Scorecards and auto-refill: a service's last finished orders, orders finished
        # since a time (opensmm.scorecards, opensmm.refills.auto).
        Index("ix_orders_service_finished", "service_id", "status", "finished_at"),
        Index("ix_orders_finished_at", "finished_at"),
        Index("ix_orders_subscription_id", "subscription_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"))
    link: Mapped[str] = mapped_column(Text, default="")
    # What the customer asked for (per run for drip-feed) ...
    quantity: Mapped[int]
    # ... and what the charge counts: quantity × runs, comment lines, 1 for packages, ...
    units: Mapped[int]
    charge: Mapped[Decimal] = mapped_column(Money)
    refunded: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    status: Mapped[str] = mapped_column(String(20), default=st.PENDING)
    start_count: Mapped[int | None]
    remains: Mapped[int]
    runs: Mapped[int | None]
    interval: Mapped[int | None]
    # The type's own fields (comments, usernames, subscription settings, ...).
    fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When the order reached Completed or Partial: the refill window counts from here.
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # --- subscriptions (opensmm.subscriptions) ---
    # A post's order: the subscription it was made for. None for every other order.
    subscription_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    # A subscription: the posts recorded so far (its ``status`` answer's ``posts``).
    # None for every other order.
    posts: Mapped[int | None]

    # --- fulfillment (opensmm.fulfillment) ---
    # The service's mode when the order was placed: "manual", "provider" or "simulator".
    fulfillment: Mapped[str] = mapped_column(String(16), default="manual")
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id"))
    # The route taken (with ``provider_id``): the provider's service id, and when the order
    # was put on it (an order waits there at most ``worker_route_failover_minutes`` for a
    # provider that is down or paused before it goes to the next route).
    provider_service_id: Mapped[int | None] = mapped_column(BigInteger)
    routed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # What the upstream charges us for it: its ``status`` answer's ``charge`` when it
    # reports one (exact), else the route's cost × units / 1000 (``upstream_estimated``).
    upstream_charge: Mapped[Decimal | None] = mapped_column(Money)
    upstream_estimated: Mapped[bool] = mapped_column(default=False)
    # None for manual orders; else new -> sending -> sent, or held (a person must look).
    send_state: Mapped[str | None] = mapped_column(String(10))
    # The provider's order id, known once the provider answered ``add``.
    upstream_id: Mapped[int | None] = mapped_column(BigInteger)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Why the order is held, for the person who must decide.
    held_reason: Mapped[str | None] = mapped_column(Text)
    # Something staff should see that does not stop the order (an unknown status, ...).
    alert: Mapped[str | None] = mapped_column(Text)
    # A customer's cancel of an order already at the provider: requested -> sent | refused.
    cancel_state: Mapped[str | None] = mapped_column(String(10))
    # When the worker should next send or check the order (None: nothing to do).
    next_poll_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Consecutive failures, for the back-off.
    attempts: Mapped[int] = mapped_column(default=0)
    # The worker that claimed the order, until when.
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def is_held(self) -> bool:
        """Held for a person (a send in doubt, or refused): see ``held_reason``."""
        return self.send_state == HELD

    @hybrid_property
    def net_charge(self) -> Decimal:
        """What the customer paid, net of refunds: the ``charge`` every door shows.

        On an order, a ``Decimal``; on the class, the SQL expression (``charge - refunded``
        in whole 0.00001, as the columns store them) for queries that read or sum it.
        """
        return self.charge - self.refunded


class OrderEvent(Base):
    """The history of an order, for staff: who changed what, when."""

    __tablename__ = "order_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    # Who: a kind of opensmm.events ("staff", "customer", "cli", "worker", "provider", ...)
    # and a name (a user's, a provider's; may be empty). Rows written before kinds existed
    # have none, and ``actor`` holds the whole string ("staff:boss", "user:alice", "cli").
    actor_kind: Mapped[str | None] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(64))
    # What: a code of opensmm.orders.events and its parameters (opensmm.events), translated
    # when shown. Rows written before codes have none, and ``message`` holds their English.
    code: Mapped[str | None] = mapped_column(String(64))
    params: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    message: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def description(self) -> Message:
        """What happened: ``event.description.render(_)`` on a page."""
        return describe(self.code, self.params, self.message)

    @property
    def by(self) -> Message:
        """Who did it, as a phrase: ``event.by.render(_)``."""
        if self.actor_kind is None:
            return Message.as_is(self.actor)
        return Actor(self.actor_kind, self.actor).message()


class IdempotencyKey(Base):
    """An ``add`` request's idempotency key and the order it made (opensmm.orders.idempotency)."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (
        UniqueConstraint("user_id", "key", name="uq_idempotency_key"),
        Index("ix_idempotency_keys_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    key: Mapped[str] = mapped_column(String(100))
    # SHA-256 of the order's parameters, to tell a retry from another order.
    params_hash: Mapped[str] = mapped_column(String(64))
    order_id: Mapped[int | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
