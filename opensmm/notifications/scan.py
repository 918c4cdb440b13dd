"""The periodic scan (run by the worker every ``notify_every_seconds``): what to tell whom.

Each thing told is first recorded as a :class:`Notice` under a unique key, with an insert
that does nothing on a conflict; only the transaction that inserted the key queues the
mails (and the Telegram message), in the same unit of work. A second scan, or a second
worker scanning at the same moment, finds the key taken and tells nothing again.

The scan reads only small, recent sets (held orders, open alerts, the last two days'
tickets and payments) and, once a day, yesterday's finished orders; it adds nothing to the
API's hot paths.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from opensmm.accounts.models import USER_ACTIVE, User
from opensmm.db import Database, utcnow
from opensmm.db.insert import insert_for
from opensmm.fulfillment.states import HELD
from opensmm.i18n import N_
from opensmm.i18n.languages import LANGUAGES, language
from opensmm.i18n.translate import Translator
from opensmm.mail import render as mail_templates
from opensmm.mail import service as mail
from opensmm.notifications import service as prefs_service
from opensmm.notifications.models import Notice, NotificationPrefs, TelegramMessage
from opensmm.orders import statuses as st
from opensmm.orders.models import Order
from opensmm.panel_settings import service as panel_settings
from opensmm.payments.models import Payment
from opensmm.providers.models import Provider
from opensmm.refills.models import Refill
from opensmm.scorecards.service import stuck_after, stuck_filter
from opensmm.tickets.models import Ticket

log = logging.getLogger("opensmm.notifications")

R = TypeVar("R", bound=Any)

# How far back new tickets and payments are looked for: a worker stopped for a day still
# tells about them, a fresh install does not mail about its whole history.
LOOKBACK = timedelta(days=2)
# The digest of day D is written this long after D ends (orders finishing at midnight).
DIGEST_DELAY = timedelta(minutes=15)
DIGEST_MAX_LINES = 200
NOTICE_TEMPLATE = mail_templates.NOTICE
# Stuck orders named in one alert, at most (the others are counted).
STUCK_LISTED = 50

# --- the words (translated in each recipient's language) ---------------------------------
S_TICKET = N_("New ticket {ticket}: {title}")
B_TICKET = N_("{customer} opened ticket {ticket}: {title}\n\nAnswer it here: {link}")
S_HELD = N_("Order {order} is held")
B_HELD = N_("Order {order} is held for a person: {reason}\n\nLook at it here: {link}")
S_HELD_REFILL = N_("Refill {refill} is held")
B_HELD_REFILL = N_("Refill {refill} of order {order} is held for a person: {reason}\n\n"
                   "Look at it here: {link}")
S_PROVIDER = N_("Provider {provider} needs attention")
B_PROVIDER = N_("Provider {provider} is failing or low on funds: {alert}\n\n"
                "Look at it here: {link}")
S_STUCK = N_("Orders without progress at {provider}")
B_STUCK = N_("These orders have made no progress (status, remains, start count) for longer "
             "than the panel's stuck time of {hours} h: {orders}\n\nLook at them here: {link}")
S_PAYMENT_WAITING = N_("Payment {payment} is waiting for approval")
B_PAYMENT_WAITING = N_("Payment {payment} of {customer} ({amount}) is waiting for approval."
                       "\n\nLook at it here: {link}")
S_CREDITED = N_("{amount} was added to your balance")
B_CREDITED = N_("Hello {name},\n\nYour payment {payment} was credited: {amount} was added to "
                "your balance.\n\nYour funds: {link}")
S_LOW = N_("Your balance is below {threshold}")
B_LOW = N_("Hello {name},\n\nYour balance is {balance}, below the {threshold} you chose to be "
           "told about.\n\nAdd funds here: {link}")
S_DIGEST = N_("Your orders that ended Partial or Canceled on {date}")
B_DIGEST = N_("Hello {name},\n\nThese orders ended on {date}; what was not delivered was "
              "refunded to your balance:\n\n{lines}\n\nYour orders: {link}")
L_DIGEST = N_("Order {order}: {status}, {service}, refunded {refunded}")
FOOTER = N_("You can choose which mails you get on your account page: {link}")


@dataclass
class Scanned:
    notices: int = 0
    mails: int = 0
    telegram: int = 0
    kinds: dict[str, int] = field(default_factory=lambda: defaultdict(int))


@dataclass(frozen=True)
class Context:
    now: datetime
    base_url: str
    currency: str
    default_language: str
    telegram: bool  # staff alerts also go to the Telegram chat


def claim(session: Session, key: str, kind: str, now: datetime) -> bool:
    """Record the notice ``key``; False when it was already recorded (by anyone)."""
    statement = insert_for(session, Notice).values(key=key[:200], kind=kind, created_at=now)
    inserted = session.scalar(
        statement.on_conflict_do_nothing(index_elements=["key"]).returning(Notice.id))
    return inserted is not None


def _amounts(t: Translator, params: dict[str, object]) -> dict[str, object]:
    """Amounts written the recipient's way (digits, separators, currency)."""
    return {k: t.money(v) if isinstance(v, Decimal) else v for k, v in params.items()}


def _translator(ctx: Context, user: User) -> Translator:
    code = user.language if user.language in LANGUAGES else ctx.default_language
    return Translator(language(code), ctx.currency)


def _mail(session: Session, ctx: Context, user: User, subject: tuple[str, dict[str, object]],
          body: tuple[str, dict[str, object]], link: str) -> bool:
    if not user.email:
        return False
    t = _translator(ctx, user)
    settings_link = f"{ctx.base_url}/account/password#notifications"
    text = t(body[0], **_amounts(t, body[1])) + "\n\n" + t(FOOTER, link=settings_link)
    try:
        mail.queue(session, to=user.email, template=NOTICE_TEMPLATE, language=t.lang.code,
                   subject=t(subject[0], **_amounts(t, subject[1])), body=text, link=link)
    except mail.MailRefused:
        # One unusable address must not stop everyone else's notices.
        log.warning("notification to user %s not queued: the address is refused", user.id)
        return False
    return True


def staff_recipients(session: Session) -> list[User]:
    """Active staff with an address who did not turn their alerts off."""
    rows = session.scalars(
        select(User)
        .outerjoin(NotificationPrefs, NotificationPrefs.user_id == User.id)
        .where(User.is_admin.is_(True), User.status == USER_ACTIVE, User.email.is_not(None),
               or_(NotificationPrefs.user_id.is_(None), NotificationPrefs.staff_alerts.is_(True)))
        .order_by(User.id)
    ).all()
    return list(rows)


class Scan:
    def __init__(self, session: Session, ctx: Context) -> None:
        self.session = session
        self.ctx = ctx
        self.result = Scanned()
        self._staff: list[User] | None = None

    def staff(self) -> list[User]:
        if self._staff is None:
            self._staff = staff_recipients(self.session)
        return self._staff

    def tell_staff(self, key: str, kind: str, subject: str, body: str,
                   params: dict[str, object], link: str) -> None:
        if not claim(self.session, key, kind, self.ctx.now):
            return
        self.result.notices += 1
        self.result.kinds[kind] += 1
        params = {**params, "link": link}
        for member in self.staff():
            if _mail(self.session, self.ctx, member, (subject, params), (body, params), link):
                self.result.mails += 1
        if self.ctx.telegram:
            # The chat is shared: the panel's default language.
            t = Translator(language(self.ctx.default_language), self.ctx.currency)
            values = _amounts(t, params)
            text = t(subject, **values) + "\n\n" + t(body, **values)
            self.session.add(TelegramMessage(text=text[:4000], status="queued", attempts=0,
                                             next_attempt_at=self.ctx.now,
                                             created_at=self.ctx.now))
            self.result.telegram += 1

    def tell_customer(self, key: str, kind: str, user: User, subject: str, body: str,
                      params: dict[str, object], link: str) -> None:
        if not claim(self.session, key, kind, self.ctx.now):
            return
        self.result.notices += 1
        self.result.kinds[kind] += 1
        params = {"name": user.name, **params, "link": link}
        if _mail(self.session, self.ctx, user, (subject, params), (body, params), link):
            self.result.mails += 1

    # --- staff ---------------------------------------------------------------------
    def new_tickets(self) -> None:
        since = self.ctx.now - LOOKBACK
        rows = self.session.execute(
            select(Ticket.id, Ticket.title, User.name)
            .join(User, User.id == Ticket.user_id)
            .where(Ticket.created_at >= since).order_by(Ticket.id)
        ).all()
        for ticket_id, title, customer in self._unknown(rows, "ticket:{}:new"):
            self.tell_staff(f"ticket:{ticket_id}:new", "ticket", S_TICKET, B_TICKET,
                            {"ticket": ticket_id, "title": title, "customer": customer},
                            f"{self.ctx.base_url}/admin/tickets/{ticket_id}")

    def held(self) -> None:
        orders = self.session.execute(
            select(Order.id, Order.held_reason).where(Order.send_state == HELD)
            .order_by(Order.id)
        ).all()
        for order_id, reason in self._unknown(orders, "held:order:{}"):
            self.tell_staff(f"held:order:{order_id}", "held", S_HELD, B_HELD,
                            {"order": order_id, "reason": reason or "-"},
                            f"{self.ctx.base_url}/admin/orders/{order_id}")
        refills = self.session.execute(
            select(Refill.id, Refill.held_reason, Refill.order_id)
            .where(Refill.send_state == HELD).order_by(Refill.id)
        ).all()
        for refill_id, reason, order_id in self._unknown(refills, "held:refill:{}"):
            self.tell_staff(f"held:refill:{refill_id}", "held", S_HELD_REFILL, B_HELD_REFILL,
                            {"refill": refill_id, "order": order_id, "reason": reason or "-"},
                            f"{self.ctx.base_url}/admin/orders/{order_id}")

    def providers(self) -> None:
        rows = self.session.execute(
            select(Provider.id, Provider.name, Provider.alert, Provider.alert_at)
            .where(Provider.alert.is_not(None)).order_by(Provider.id)
        ).all()
        for provider_id, name, alert, alert_at in rows:
            since = (alert_at or self.ctx.now).strftime("%Y%m%dT%H%M%S")
            self.tell_staff(f"provider:{provider_id}:{since}", "provider", S_PROVIDER,
                            B_PROVIDER, {"provider": name, "alert": alert or "-"},
                            f"{self.ctx.base_url}/admin/providers/{provider_id}")

    def stuck(self) -> None:
        """Running orders without progress for ``stuck_hours`` (that stalled within the
        lookback): each told once per stall (its key names its last change), in one alert
        per provider."""
        since = self.ctx.now - stuck_after(self.session)
        rows = self.session.execute(
            select(Order.id, Order.updated_at, Provider.name)
            .outerjoin(Provider, Provider.id == Order.provider_id)
            .where(*stuck_filter(since), Order.updated_at >= since - LOOKBACK)
            .order_by(Order.id)
        ).all()
        keyed = [(f"stuck:order:{oid}:{updated:%Y%m%dT%H%M%S}", oid, name)
                 for oid, updated, name in rows]
        known = self._known([key for key, _, _ in keyed])
        groups: dict[str, list[int]] = defaultdict(list)
        for key, order_id, provider in keyed:
            if key not in known and claim(self.session, key, "stuck_order", self.ctx.now):
                groups[provider or "manual"].append(order_id)
        hours = int(panel_settings.get(self.session, "stuck_hours"))
        for provider, ids in sorted(groups.items()):
            link = f"{self.ctx.base_url}/admin/scorecards"
            if len(ids) == 1:
                link = f"{self.ctx.base_url}/admin/orders/{ids[0]}"
            listed = ", ".join(map(str, ids[:STUCK_LISTED]))
            if len(ids) > STUCK_LISTED:
                listed += f", … (+{len(ids) - STUCK_LISTED})"
            self.tell_staff(f"stuck:{provider}:{ids[0]}:{self.ctx.now:%Y%m%dT%H%M%S}",
                            "stuck", S_STUCK, B_STUCK,
                            {"provider": provider, "hours": hours, "orders": listed}, link)

    def payments_waiting(self) -> None:
        since = self.ctx.now - LOOKBACK
        rows = self.session.execute(
            select(Payment.id, Payment.amount, User.name, Payment.user_id)
            .join(User, User.id == Payment.user_id)
            .where(or_(and_(Payment.gateway == "manual", Payment.state == "pending"),
                       Payment.needs_review.is_(True)),
                   Payment.updated_at >= since)
            .order_by(Payment.id)
        ).all()
        for payment_id, amount, customer, _user_id in self._unknown(rows, "payment:{}:waiting"):
            self.tell_staff(f"payment:{payment_id}:waiting", "payment", S_PAYMENT_WAITING,
                            B_PAYMENT_WAITING,
                            {"payment": payment_id, "customer": customer,
                             "amount": amount},
                            f"{self.ctx.base_url}/admin/payments/{payment_id}")

    # --- customers -----------------------------------------------------------------
    def payments_credited(self) -> None:
        since = self.ctx.now - LOOKBACK
        rows = self.session.execute(
            select(Payment.id, Payment.paid, Payment.fee, Payment.bonus, Payment.user_id)
            .where(Payment.state == "paid", Payment.settled_at >= since)
            .order_by(Payment.id)
        ).all()
        fresh = list(self._unknown(rows, "payment:{}:credited"))
        users = self._users({row[4] for row in fresh})
        choices = prefs_service.for_users(self.session, sorted(users))
        for payment_id, paid, fee, bonus, user_id in fresh:
            user = users.get(user_id)
            if user is None or not choices[user_id].payments:
                continue
            self.tell_customer(f"payment:{payment_id}:credited", "credited", user, S_CREDITED,
                               B_CREDITED,
                               {"payment": payment_id, "amount": paid - fee + bonus},
                               f"{self.ctx.base_url}/funds")

    def low_balances(self) -> None:
        rows = self.session.execute(
            select(NotificationPrefs.user_id, NotificationPrefs.low_balance,
                   NotificationPrefs.low_balance_sent, User.balance)
            .join(User, User.id == NotificationPrefs.user_id)
            .where(NotificationPrefs.low_balance.is_not(None))
        ).all()
        for user_id, threshold, sent, balance in rows:
            if threshold is None:
                continue
            if balance >= threshold and sent:
                # Back above: the next fall is told again.
                self.session.execute(update(NotificationPrefs).where(
                    NotificationPrefs.user_id == user_id).values(low_balance_sent=False))
            elif balance < threshold and not sent:
                # The conditional update is the guard between two workers.
                done = self.session.execute(update(NotificationPrefs).where(
                    NotificationPrefs.user_id == user_id,
                    NotificationPrefs.low_balance_sent.is_(False),
                ).values(low_balance_sent=True))
                if getattr(done, "rowcount", 0) != 1:
                    continue
                user = self.session.get(User, user_id)
                if user is None or user.status != USER_ACTIVE:
                    continue
                stamp = self.ctx.now.strftime("%Y%m%dT%H%M%S")
                self.tell_customer(f"low_balance:{user_id}:{stamp}", "low_balance", user,
                                   S_LOW, B_LOW,
                                   {"balance": balance, "threshold": threshold},
                                   f"{self.ctx.base_url}/funds")

    def digests(self) -> None:
        """Yesterday's Partial and Canceled orders, one mail per customer; once a day."""
        day = (self.ctx.now - DIGEST_DELAY).date() - timedelta(days=1)
        if not claim(self.session, f"digest:run:{day.isoformat()}", "digest_run", self.ctx.now):
            return
        start = datetime.combine(day, time(0), tzinfo=UTC)
        from opensmm.catalog.models import Service

        rows = self.session.execute(
            select(Order.id, Order.user_id, Order.status, Order.refunded, Service.name)
            .join(Service, Service.id == Order.service_id)
            .where(Order.status.in_((st.PARTIAL, st.CANCELED)),
                   Order.finished_at >= start, Order.finished_at < start + timedelta(days=1))
            .order_by(Order.user_id, Order.id)
        ).all()
        by_user: dict[int, list[tuple[int, str, Decimal, str]]] = defaultdict(list)
        for order_id, user_id, status, refunded, service in rows:
            by_user[user_id].append((order_id, status, refunded, service))
        users = self._users(set(by_user))
        choices = prefs_service.for_users(self.session, sorted(users))
        for user_id, orders in by_user.items():
            user = users.get(user_id)
            if user is None or not user.email or not choices[user_id].digest:
                continue
            t = _translator(self.ctx, user)
            lines = [t(L_DIGEST, order=o, status=t(s), service=name, refunded=t.money(r))
                     for o, s, r, name in orders[:DIGEST_MAX_LINES]]
            if len(orders) > DIGEST_MAX_LINES:
                lines.append("…")
            date = day.isoformat()
            self.tell_customer(f"digest:{user_id}:{date}", "digest", user, S_DIGEST, B_DIGEST,
                               {"date": date, "lines": "\n".join(lines)},
                               f"{self.ctx.base_url}/orders")

    # --- helpers -------------------------------------------------------------------
    def _known(self, names: list[str]) -> set[str]:
        known: set[str] = set()
        for start in range(0, len(names), 500):
            known.update(self.session.scalars(
                select(Notice.key).where(Notice.key.in_(names[start:start + 500]))))
        return known

    def _unknown(self, rows: Iterable[R], pattern: str) -> list[R]:
        """The rows whose notice (``pattern`` filled with the row's first value) is not
        recorded yet: one query for all, instead of an insert attempt per row."""
        rows = list(rows)
        keys = {pattern.format(row[0]): row for row in rows}
        known: set[str] = set()
        names = list(keys)
        for start in range(0, len(names), 500):
            known.update(self.session.scalars(
                select(Notice.key).where(Notice.key.in_(names[start:start + 500]))))
        return [row for key, row in keys.items() if key not in known]

    def _users(self, ids: set[int]) -> dict[int, User]:
        found: dict[int, User] = {}
        id_list = sorted(ids)
        for start in range(0, len(id_list), 500):
            for user in self.session.scalars(
                select(User).where(User.id.in_(id_list[start:start + 500]),
                                   User.status == USER_ACTIVE)
            ):
                found[user.id] = user
        return found


def context(session: Session, now: datetime, *, base_url: str, currency: str,
            telegram: bool) -> Context:
    default = str(panel_settings.default_language(session) or "en")
    return Context(now=now, base_url=base_url.rstrip("/"), currency=currency,
                   default_language=default if default in LANGUAGES else "en",
                   telegram=telegram)


def run(db: Database, *, base_url: str, currency: str, telegram: bool,
        now: datetime | None = None) -> Scanned:
    """One scan, in one unit of work: every notice found, its mails queued."""
    now = now or utcnow()
    with db.write() as session:
        scan = Scan(session, context(session, now, base_url=base_url, currency=currency,
                                     telegram=telegram))
        scan.new_tickets()
        scan.held()
        scan.providers()
        scan.stuck()
        scan.payments_waiting()
        scan.payments_credited()
        scan.low_balances()
        scan.digests()
        result = scan.result
    if result.notices:
        log.info("notifications: %s", dict(result.kinds))
    return result
