"""Reading subscriptions and their posts, for the customer's page."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from opensmm.catalog.models import Service
from opensmm.db.pagination import Page, paginate
from opensmm.orders.models import Order
from opensmm.subscriptions.service import Settings, posts_of


@dataclass(frozen=True)
class SubscriptionRow:
    order: Order
    service_name: str
    posts: list[Any]  # (SubscriptionPost, its order or None while unpaid), by number

    @property
    def settings(self) -> Settings:
        return Settings.of(self.order)

    @property
    def new_posts(self) -> int:
        """Posts made since it was placed (its old posts aside)."""
        return max(0, (self.order.posts or 0) - self.settings.old_posts)

    @property
    def spent(self) -> Any:
        """What its posts' orders cost, net of their refunds."""
        return sum((child.net_charge for _, child in self.posts if child is not None), 0)


def list_subscriptions(session: Session, user_id: int, page: int = 1) -> Page[SubscriptionRow]:
    """The account's subscriptions, newest first, each with its posts."""
    query = (
        select(Order, Service.name)
        .join(Service, Service.id == Order.service_id)
        .where(Order.user_id == user_id, Order.posts.is_not(None))
        .order_by(Order.id.desc())
    )
    result = paginate(session, query, page)
    posts = posts_of(session, [order.id for order, _ in result.items])
    rows = [SubscriptionRow(order, name, posts[order.id]) for order, name in result.items]
    return Page(items=rows, number=result.number, per_page=result.per_page, total=result.total)
