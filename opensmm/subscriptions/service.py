"""Subscriptions charged as they run (spec §3, §4).

A subscription is an order row of the type ``Subscriptions``: accepted without a charge,
with the status ``Active`` (kept here) or ``Pending`` (until its upstream has it). Each post
of the account becomes a ``SubscriptionPost`` and a child order of its own (quantity between
``min`` and ``max``), charged through the ledger when it is made, under a key of the
subscription and the post's number: a replayed answer never charges twice, and the unique
(subscription, number) keeps two workers from making the same post twice.

When the balance cannot pay for a post, the post waits unpaid and the subscription is
``Paused``; the worker tries again (``run_due``, and every poll of an upstream's
subscription), and the first post it can pay resumes it.

Where posts come from (opensmm never reads a social network itself):

- ``manual``: staff record a post's link (the staff order page, ``opensmm subscription post``);
- ``simulator``: one made-up post every few simulator stages, the old posts at once;
- ``provider``: the upstream's ``status`` answer counts the posts (``posts``, which opensmm
  itself answers); every post counted beyond ours is made here and charged.

Every function runs inside the caller's unit of work and never commits.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from opensmm.accounts.models import User
from opensmm.catalog.models import Service
from opensmm.catalog.service import MANUAL, PROVIDER, SIMULATOR
from opensmm.db import Database, utcnow
from opensmm.errors import DomainError
from opensmm.events import Actor
from opensmm.events import params as event_params
from opensmm.fulfillment import states as fs
from opensmm.fulfillment.protocol import Observation, Tracked
from opensmm.i18n import N_, Term
from opensmm.ledger import events as ledger_events
from opensmm.ledger import service as ledger
from opensmm.ledger.models import CHARGE
from opensmm.money import charge_for
from opensmm.orders import events
from opensmm.orders import service as orders
from opensmm.orders import statuses as st
from opensmm.orders.fields import validate_link
from opensmm.orders.models import Order
from opensmm.subscriptions.models import SIMULATOR as FROM_SIMULATOR
from opensmm.subscriptions.models import STAFF, UPSTREAM, SubscriptionPost

# A simulated account posts once every this many simulator stages.
SIMULATOR_STAGES_PER_POST = 3
# How often a paused subscription kept here is looked at again (a deposit resumes it).
PAUSED_RECHECK = timedelta(seconds=30)
# At most this many posts are made from one upstream answer (the rest at the next poll).
MAX_POSTS_PER_ANSWER = 100
FINAL = (st.COMPLETED, st.EXPIRED, st.CANCELED)


class NotASubscription(DomainError):
    message = N_("Order {id} is not a subscription")


class SubscriptionNotRunning(DomainError):
    message = N_("Subscription {id} is {status}: it takes no more posts")


class PaidUpFront(DomainError):
    message = N_("Subscription {id} was paid up front: its posts are not charged one by one")


class AllPostsRecorded(DomainError):
    message = N_("Subscription {id} already has all its {posts} posts")


@dataclass(frozen=True)
class Settings:
    """A subscription's ``add`` fields, as ``validate_order`` stored them."""

    username: str
    low: int
    high: int
    posts: int  # 0: unlimited
    old_posts: int
    delay: int
    expiry: datetime | None  # the moment it expires: the end of the expiry date (UTC)

    @classmethod
    def of(cls, order: Order) -> Settings:
        fields = order.fields
        expiry = None
        if fields.get("expiry"):
            day = datetime.strptime(str(fields["expiry"]), "%d/%m/%Y").replace(tzinfo=UTC)
            expiry = day + timedelta(days=1)
        return cls(
            username=str(fields.get("username", "")),
            low=int(fields.get("min", 0)),
            high=int(fields.get("max", 0)),
            posts=int(fields.get("posts") or 0),
            old_posts=int(fields.get("old_posts") or 0),
            delay=int(fields.get("delay") or 0),
            expiry=expiry,
        )

    @property
    def most_posts(self) -> int | None:
        """Every post the subscription may have (old and new); None: no limit."""
        return self.old_posts + self.posts if self.posts else None


def post_quantity(subscription_id: int, number: int, low: int, high: int) -> int:
    """The quantity of a post's order: between ``min`` and ``max``, drawn from the
    subscription and the post's number, so every worker (and every replay) draws the same."""
    if high <= low:
        return low
    digest = hashlib.sha256(f"subscription:{subscription_id}:post:{number}".encode()).digest()
    return low + int.from_bytes(digest[:8], "big") % (high - low + 1)


def lock_subscription(session: Session, subscription_id: int, user_id: int | None = None) -> Order:
    order = orders.lock_order(session, subscription_id, user_id)
    if not orders.is_subscription(order) or order.subscription_id is not None:
        raise NotASubscription(id=order.id)
    return order


def posts_of(session: Session, subscription_ids: list[int]) -> dict[int, list[Any]]:
    """Each subscription's posts with their orders (None while unpaid), by number."""
    rows = session.execute(
        select(SubscriptionPost, Order)
        .outerjoin(Order, Order.id == SubscriptionPost.order_id)
        .where(SubscriptionPost.subscription_id.in_(subscription_ids))
        .order_by(SubscriptionPost.subscription_id, SubscriptionPost.number)
    ).all()
    found: dict[int, list[Any]] = {sid: [] for sid in subscription_ids}
    for post, order in rows:
        found[post.subscription_id].append((post, order))
    return found


def _last_number(session: Session, subscription_id: int) -> int:
    return int(session.scalar(
        select(func.coalesce(func.max(SubscriptionPost.number), 0)).where(
            SubscriptionPost.subscription_id == subscription_id
        )
    ) or 0)


def _add_post(
    session: Session, sub: Order, settings: Settings, number: int, link: str, source: str,
    now: datetime | None = None,
) -> SubscriptionPost:
    post = SubscriptionPost(
        subscription_id=sub.id,
        number=number,
        old=number <= settings.old_posts,
        link=link,
        source=source,
        created_at=now or utcnow(),
    )
    session.add(post)
    sub.posts = number
    new_posts = max(0, number - settings.old_posts)
    sub.remains = max(0, settings.posts - new_posts) if settings.posts else 0
    return post


def record_post(
    session: Session, subscription_id: int, link: object, actor: str | Actor,
    *, source: str = STAFF,
) -> SubscriptionPost:
    """A new post of the subscription's account (its link): made into an order and charged,
    or left unpaid with the subscription ``Paused``. Staff may record one in any mode."""
    sub = lock_subscription(session, subscription_id)
    if sub.posts is None:  # placed before subscriptions were charged as they run
        raise PaidUpFront(id=sub.id)
    if sub.status not in (st.ACTIVE, st.PAUSED):
        raise SubscriptionNotRunning(id=sub.id, status=Term(sub.status))
    settings = Settings.of(sub)
    if settings.expiry is not None and utcnow() >= settings.expiry:
        # Past its expiry, though the worker has not marked it yet.
        raise SubscriptionNotRunning(id=sub.id, status=Term(st.EXPIRED))
    number = _last_number(session, sub.id) + 1
    most = settings.most_posts
    if most is not None and number > most:
        raise AllPostsRecorded(id=sub.id, posts=most)
    post = _add_post(session, sub, settings, number, validate_link(link), source)
    session.flush()
    _settle_here(session, sub, settings, actor)
    return post


def _child(session: Session, sub: Order, settings: Settings, post: SubscriptionPost,
           service: Service, user: User, actor: Actor, now: datetime) -> bool:
    """Make and charge the post's order; False (nothing written) if the balance cannot."""
    quantity = post_quantity(sub.id, post.number, settings.low, settings.high)
    rate = orders.customer_rate(service, user)
    charge = charge_for(rate, quantity)
    if sub.fulfillment == PROVIDER:
        # The upstream's subscription serves the post: nothing to send, it is under way.
        status, send_state = st.IN_PROGRESS, None
    elif sub.fulfillment == SIMULATOR:
        status, send_state = st.PENDING, fs.NEW
    else:
        status, send_state = st.PENDING, None
    try:
        with session.begin_nested():
            child = Order(
                user_id=sub.user_id, service_id=sub.service_id,
                link=post.link or sub.link or settings.username,
                quantity=quantity, units=quantity, charge=charge, refunded=Decimal(0),
                status=status, remains=quantity,
                fields={"type": "Default", "subscription": sub.id, "post": post.number},
                fulfillment=sub.fulfillment, provider_id=sub.provider_id,
                send_state=send_state, attempts=0, created_at=now, updated_at=now,
                subscription_id=sub.id,
                # The account's delay: the order is sent that many minutes after the post.
                next_poll_at=now + timedelta(minutes=settings.delay) if send_state else None,
            )
            session.add(child)
            session.flush()
            ledger.post(
                session, user_id=sub.user_id, amount=-charge, kind=CHARGE,
                key=f"subscription:{sub.id}:post:{post.number}:charge",
                event=ledger_events.ORDER_CHARGE,
                params=event_params(order=child.id, service=service.name),
                order_id=child.id,
            )
    except ledger.NotEnoughFunds:
        return False
    post.order_id = child.id
    post.charged_at = now
    orders.record(session, child, actor, events.POST_OF, number=post.number,
                  subscription=sub.id, charge=charge, units=quantity)
    session.add(orders.event_row(sub.id, actor, events.POST_ORDERED, number=post.number,
                                 order=child.id))
    return True


def _charge_unpaid(session: Session, sub: Order, settings: Settings, actor: str | Actor) -> bool:
    """Charge the unpaid posts, oldest first, until one cannot be paid. True: all paid."""
    unpaid = session.scalars(
        select(SubscriptionPost)
        .where(SubscriptionPost.subscription_id == sub.id, SubscriptionPost.order_id.is_(None))
        .order_by(SubscriptionPost.number)
    ).all()
    if not unpaid:
        return True
    service = session.get(Service, sub.service_id)
    user = session.get(User, sub.user_id)
    assert service is not None and user is not None  # an order's service and account stay
    who, now = Actor.of(actor), utcnow()
    for post in unpaid:
        if not _child(session, sub, settings, post, service, user, who, now):
            if sub.status != st.PAUSED:
                orders.record(session, sub, who, events.POST_UNPAID, number=post.number)
            return False
    return True


def _settle_here(session: Session, sub: Order, settings: Settings, actor: str | Actor) -> None:
    """Charge what waits; then Paused, Active or Completed as it stands. A subscription
    at an upstream (a post staff recorded by hand) only pauses and resumes here: it ends
    when the upstream says so, and its next look stays the poll's."""
    paid = _charge_unpaid(session, sub, settings, actor)
    here = sub.send_state is None
    done = settings.posts and (sub.posts or 0) - settings.old_posts >= settings.posts
    if not paid:
        new = st.PAUSED
    elif done and here:
        new = st.COMPLETED
    elif here or sub.status == st.PAUSED:
        new = st.ACTIVE
    else:
        new = sub.status
    if new != sub.status:
        orders.apply_update(session, sub.id, orders.OrderUpdate(status=new), str(actor))
    if here:
        sub.next_poll_at = _next_look(sub, settings, utcnow())


def _next_look(sub: Order, settings: Settings, now: datetime) -> datetime | None:
    """When the worker should next look at a subscription kept here (None: never)."""
    if sub.status not in (st.ACTIVE, st.PAUSED):
        return None
    times = []
    if settings.expiry is not None:
        times.append(settings.expiry)
    if sub.status == st.PAUSED:
        times.append(now + PAUSED_RECHECK)
    return min(times) if times else None


# --- the worker -----------------------------------------------------------------------


def run_due(db: Database, now: datetime, simulator_seconds: float, batch: int = 50) -> int:
    """Subscriptions kept here that are due: expire them, make the simulator's posts, charge
    what waits (a deposit resumes a paused one). Returns how many were looked at."""
    due = [
        Order.subscription_id.is_(None),
        Order.posts.is_not(None),
        Order.send_state.is_(None),
        Order.status.in_((st.ACTIVE, st.PAUSED)),
        Order.next_poll_at <= now,
    ]
    with db.read() as session:
        if session.scalar(select(Order.id).where(*due).limit(1)) is None:
            return 0
    with db.write() as session:
        subs = session.scalars(
            select(Order).where(*due).order_by(Order.id).limit(batch)
            .with_for_update(skip_locked=True)
        ).all()
        for sub in subs:
            _look(session, sub, now, simulator_seconds)
    return len(subs)


def _look(session: Session, sub: Order, now: datetime, simulator_seconds: float) -> None:
    settings = Settings.of(sub)
    if settings.expiry is not None and now >= settings.expiry:
        orders.apply_update(session, sub.id, orders.OrderUpdate(status=st.EXPIRED), "worker")
        sub.next_poll_at = None
        return
    if sub.fulfillment == SIMULATOR:
        _simulate(session, sub, settings, now, simulator_seconds)
    _settle_here(session, sub, settings, "simulator" if sub.fulfillment == SIMULATOR else "worker")
    if sub.fulfillment == SIMULATOR and sub.status in (st.ACTIVE, st.PAUSED):
        every = timedelta(seconds=max(simulator_seconds, 0.1) * SIMULATOR_STAGES_PER_POST)
        later = _next_look(sub, settings, now)
        sub.next_poll_at = min(now + every, later) if later else now + every


def _simulate(
    session: Session, sub: Order, settings: Settings, now: datetime, simulator_seconds: float
) -> None:
    """The old posts at once, then a new one every few stages, until ``posts`` are made."""
    last = _last_number(session, sub.id)
    most = settings.most_posts
    if last < settings.old_posts:
        wanted = list(range(last + 1, settings.old_posts + 1))
    elif most is not None and last >= most:
        wanted = []
    else:
        previous = sub.created_at if last == 0 else session.scalar(
            select(SubscriptionPost.created_at).where(
                SubscriptionPost.subscription_id == sub.id, SubscriptionPost.number == last
            )
        )
        every = timedelta(seconds=max(simulator_seconds, 0.1) * SIMULATOR_STAGES_PER_POST)
        wanted = [last + 1] if previous is None or now >= previous + every else []
    for number in wanted:
        link = f"https://example.com/{settings.username}/posts/{number}"
        _add_post(session, sub, settings, number, link, FROM_SIMULATOR, now)
    session.flush()


# --- provider mode --------------------------------------------------------------------


def reconcile(session: Session, tracked: Tracked, seen: Observation, by: str) -> Observation:
    """An upstream's answer about one of our subscriptions, before it is applied.

    Every post it counts beyond ours is made and charged (under its own ledger key: a
    replayed answer charges nothing). While a post waits unpaid, ours stays ``Paused``
    whatever the upstream says, until it ends; when it ends, the orders of its posts that
    were under way there are completed. An upstream that counts no posts makes none: staff
    may record them by hand. Returns the observation to apply.
    """
    sub = session.get(Order, tracked.order_id)
    if sub is None or sub.posts is None:  # a subscription from before posts were kept
        return seen
    settings = Settings.of(sub)
    if seen.posts is not None and seen.status != st.PENDING:
        last = _last_number(session, sub.id)
        counted = seen.posts
        if settings.most_posts is not None:
            counted = min(counted, settings.most_posts)
        counted = min(counted, last + MAX_POSTS_PER_ANSWER)
        for number in range(last + 1, counted + 1):
            _add_post(session, sub, settings, number, "", UPSTREAM)
        session.flush()
    paid = _charge_unpaid(session, sub, settings, by)
    if seen.status in FINAL:
        _finish_children(session, sub, by)
        return seen
    if not paid and seen.status in (st.ACTIVE, st.PAUSED):
        return replace(seen, status=st.PAUSED)
    return seen


def _finish_children(session: Session, sub: Order, by: str) -> None:
    """The upstream's subscription ended: the posts it served are done."""
    children = session.scalars(
        select(Order.id).where(
            Order.subscription_id == sub.id,
            Order.status == st.IN_PROGRESS,
            Order.send_state.is_(None),
            Order.fulfillment == PROVIDER,
        )
    ).all()
    for child_id in children:
        orders.apply_update(session, child_id, orders.OrderUpdate(status=st.COMPLETED), by)


def is_kept_here(sub: Order) -> bool:
    return sub.fulfillment in (MANUAL, SIMULATOR)
