from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from opensmm.db import Base, UTCDateTime, utcnow

# Where a post came from.
STAFF = "staff"  # recorded by a person (manual mode, or any mode by hand)
SIMULATOR = "simulator"  # made up on a schedule (simulator mode)
UPSTREAM = "upstream"  # counted in the upstream's ``status`` answer (provider mode)


class SubscriptionPost(Base):
    """One post of a subscription, and the child order that serves it once paid.

    ``order_id`` stays None while the customer cannot pay for it (the subscription is
    ``Paused``); the worker charges it after a deposit. (subscription_id, number) is unique:
    two workers reading the same upstream answer cannot make the same post twice.
    """

    __tablename__ = "subscription_posts"
    __table_args__ = (
        UniqueConstraint("subscription_id", "number", name="uq_subscription_posts_number"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    number: Mapped[int]
    # One of the account's posts from before the subscription (``old_posts``).
    old: Mapped[bool] = mapped_column(default=False)
    link: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(16))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    charged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
