"""Referral links, commissions on referred customers' paid deposits, the affiliate balance.

- A customer's link is ``/r/{code}``; a visit counts once per browser (a cookie) and the
  cookie names the referrer when that browser signs up (``record_referral``).
- ``settle_commission`` runs inside ``opensmm.payments.settle``, in the transaction that
  credits the deposit, with the payment's row locked: it credits the referrer what the
  deposit's credit (paid less fee) earns at the referrer's percent, fixed at the first
  credit, and takes it back in proportion to a refund, or all of it on a dispute, never
  below zero (the rest is noted as the commission's ``shortfall``). Every movement has its
  own key (``affiliate:payment:{id}``, ``…:reversal``), so a replay pays nothing.
- ``transfer`` moves affiliate money to the panel balance: one affiliate entry and one
  ledger entry under the same key, in one transaction.

Lock order: the panel account's row, then the affiliate's row (settle holds the referred
customer's account when it reaches the referrer's affiliate row; a transfer locks its own
account first), so no two transactions wait on each other in a circle.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_DOWN, Decimal
from typing import Any

from sqlalchemy import ColumnElement, func, select, type_coerce, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from opensmm.accounts.models import User
from opensmm.affiliates import events
from opensmm.affiliates.models import (
    COMMISSION,
    REVERSAL,
    TRANSFER,
    Affiliate,
    AffiliateCommission,
    AffiliateEntry,
    Referral,
)
from opensmm.audit import service as audit
from opensmm.audit.actor import Actor
from opensmm.db import Money, utcnow
from opensmm.db.insert import insert_for
from opensmm.errors import DomainError
from opensmm.events import params as event_params
from opensmm.i18n import N_
from opensmm.ledger.models import AFFILIATE
from opensmm.ledger.service import post
from opensmm.money import QUANTUM, MoneyError, format_money, parse_money
from opensmm.panel_settings import service as panel_settings
from opensmm.panel_settings.registry import MAX_AFFILIATE_PERCENT
from opensmm.payments.models import Payment

CODE = re.compile(r"[A-Za-z0-9_-]{6,16}")
_KEY = re.compile(r"[A-Za-z0-9_-]{8,64}")
HUNDRED = Decimal(100)


class AffiliateRefused(DomainError):
    pass


class NotEnoughAffiliateFunds(AffiliateRefused):
    message = N_("Not enough money on your affiliate balance")


@dataclass(frozen=True)
class Stats:
    code: str
    visits: int
    signups: int
    paid_deposits: int
    deposits_total: Decimal
    earned: Decimal  # commissions less what was taken back
    balance: Decimal
    percent: Decimal  # the percent that applies now
    own_percent: Decimal | None  # set by staff for this customer
    # Commissions taken back from a balance that no longer held them: owed, for staff.
    shortfall: Decimal


@dataclass(frozen=True)
class ReferralRow:
    name: str
    joined: datetime
    deposits: int
    earned: Decimal


@dataclass(frozen=True)
class Transferred:
    amount: Decimal
    replayed: bool


def new_key() -> str:
    """A transfer form's one-time token: submitted twice, it moves the money once."""
    return secrets.token_urlsafe(18)


# --- links, visits, sign-ups ---------------------------------------------------------------


def ensure(session: Session, user_id: int) -> Affiliate:
    """The customer's affiliate row, made with a fresh code on first need."""
    found = session.get(Affiliate, user_id)
    if found is not None:
        return found
    for _ in range(5):
        code = secrets.token_urlsafe(8)[:10].replace("-", "x").replace("_", "y")
        inserted = session.execute(
            insert_for(session, Affiliate)
            .values(user_id=user_id, code=code, percent=None, balance=Decimal(0), visits=0,
                    created_at=utcnow())
            .on_conflict_do_nothing()
            .returning(Affiliate.user_id)
        ).first()
        found = session.get(Affiliate, user_id, populate_existing=True)
        if inserted is not None or found is not None:
            break
    assert found is not None
    return found


def clean_code(raw: str | None) -> str | None:
    if not isinstance(raw, str):
        return None
    code = raw.strip()
    return code if CODE.fullmatch(code) else None


def count_visit(session: Session, code: str) -> bool:
    """One more visit through the link ``code``; False if no such link."""
    clean = clean_code(code)
    if clean is None:
        return False
    changed = session.execute(
        update(Affiliate).where(Affiliate.code == clean).values(visits=Affiliate.visits + 1)
    ).rowcount  # type: ignore[attr-defined]
    return bool(changed)


def link_exists(session: Session, code: str) -> bool:
    clean = clean_code(code)
    return clean is not None and session.scalar(
        select(Affiliate.user_id).where(Affiliate.code == clean)) is not None


def record_referral(session: Session, user_id: int, code: str | None) -> int | None:
    """A new customer signed up with the referral cookie ``code``: remember who referred
    them (once; never themselves). Returns the referrer's id, or None."""
    clean = clean_code(code)
    if clean is None:
        return None
    referrer = session.scalar(select(Affiliate.user_id).where(Affiliate.code == clean))
    if referrer is None or referrer == user_id:
        return None
    session.execute(
        insert_for(session, Referral)
        .values(user_id=user_id, referrer_id=referrer, created_at=utcnow())
        .on_conflict_do_nothing()
    )
    return int(referrer)


def referrer_name(session: Session, user_id: int) -> str | None:
    return session.scalar(
        select(User.name).join(Referral, Referral.referrer_id == User.id)
        .where(Referral.user_id == user_id)
    )


def referrer_of(session: Session, user_id: int) -> int | None:
    found = session.scalar(select(Referral.referrer_id).where(Referral.user_id == user_id))
    return None if found is None else int(found)


# --- percent -----------------------------------------------------------------------------------


def panel_percent(session: Session) -> Decimal:
    return Decimal(str(panel_settings.get(session, "affiliate_percent")))


def percent_for(session: Session, affiliate_id: int) -> Decimal:
    own = session.scalar(select(Affiliate.percent).where(Affiliate.user_id == affiliate_id))
    return own if own is not None else panel_percent(session)


def set_percent(session: Session, actor: Actor, user: User, raw: str) -> Decimal | None:
    """Staff set the customer's own commission percent; empty: the panel's again."""
    text = raw.strip()
    percent: Decimal | None = None
    if text:
        try:
            percent = parse_money(text)
        except MoneyError:
            raise AffiliateRefused(N_("Enter a percent, like 5 or 2.5")) from None
        if not Decimal(0) <= percent <= MAX_AFFILIATE_PERCENT:
            raise AffiliateRefused(N_("The percent must be from 0 to {max}"),
                                   max=MAX_AFFILIATE_PERCENT)
    affiliate = ensure(session, user.id)
    before = affiliate.percent
    affiliate.percent = percent
    audit.record(session, actor, "affiliate.percent", f"user:{user.id}", user=user.name,
                 before=_shown(before), after=_shown(percent))
    return percent


def _shown(percent: Decimal | None) -> str:
    return "-" if percent is None else f"{percent.normalize() + 0:f}%"


# --- the affiliate balance ---------------------------------------------------------------------


def _move(session: Session, user_id: int, amount: Decimal, *, kind: str, key: str,
          payment_id: int | None = None, note: str = "") -> bool:
    """Move ``amount`` on the affiliate balance once per ``key``; False if already moved.
    The caller has locked the affiliate's row (``_lock``)."""
    balance = _lock(session, user_id)
    after = balance + amount
    if after < 0:
        raise NotEnoughAffiliateFunds()
    inserted = session.execute(
        insert_for(session, AffiliateEntry)
        .values(user_id=user_id, amount=amount, balance_after=after, kind=kind, key=key,
                payment_id=payment_id, note=note, created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(AffiliateEntry.id)
    ).first()
    if inserted is None:
        return False
    changed = session.execute(
        update(Affiliate)
        .where(Affiliate.user_id == user_id, Affiliate.balance + amount >= 0)
        .values(balance=Affiliate.balance + amount)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    if changed != 1:
        raise NotEnoughAffiliateFunds()
    return True


def _lock(session: Session, user_id: int) -> Decimal:
    ensure(session, user_id)
    return session.execute(
        select(Affiliate.balance).where(Affiliate.user_id == user_id).with_for_update()
    ).scalar_one()


def _key(payment_id: int, part: str, first: bool, target: Decimal) -> str:
    base = f"affiliate:payment:{payment_id}{part}"
    return base if first else f"{base}:{format(target, 'f')}"


def settle_commission(session: Session, payment: Payment) -> None:
    """Bring the referrer's commission on ``payment`` in line with what the deposit credits
    (inside ``settle``: the payment's row is locked, its mirrors are up to date)."""
    row = session.get(AffiliateCommission, payment.id)
    base = payment.paid - payment.fee
    if row is None:
        if base <= 0:
            return
        referrer = referrer_of(session, payment.user_id)
        if referrer is None:
            return
        percent = percent_for(session, referrer)
        if percent <= 0:
            return
        row = AffiliateCommission(
            payment_id=payment.id, affiliate_id=referrer, percent=percent, base=Decimal(0),
            amount=Decimal(0), reversed=Decimal(0), shortfall=Decimal(0),
            created_at=utcnow(), updated_at=utcnow(),
        )
        session.add(row)
        session.flush()
    target = (max(base, Decimal(0)) * row.percent / HUNDRED).quantize(
        QUANTUM, rounding=ROUND_DOWN)
    if target > row.amount:
        _move(session, row.affiliate_id, target - row.amount, kind=COMMISSION,
              key=_key(payment.id, "", row.amount == 0, target), payment_id=payment.id)
        row.amount, row.base = target, base
        row.updated_at = utcnow()
    _take_back(session, payment, row)


def _reversal_target(payment: Payment, row: AffiliateCommission) -> Decimal:
    if payment.disputed:
        return row.amount
    if payment.refund_target > 0:
        if payment.paid <= 0 or payment.refund_target >= payment.paid:
            return row.amount
        return (row.amount * payment.refund_target / payment.paid).quantize(
            QUANTUM, rounding=ROUND_DOWN)
    return Decimal(0)


def _take_back(session: Session, payment: Payment, row: AffiliateCommission) -> None:
    target = _reversal_target(payment, row)
    due = target - row.reversed - row.shortfall
    if due <= 0:
        return
    balance = _lock(session, row.affiliate_id)
    taken = min(due, balance)
    first = row.reversed == 0 and row.shortfall == 0
    if taken > 0:
        _move(session, row.affiliate_id, -taken, kind=REVERSAL,
              key=_key(payment.id, ":reversal", first, target), payment_id=payment.id,
              note="" if taken == due else f"shortfall {format_money(due - taken)}")
        row.reversed += taken
    if taken < due:
        row.shortfall += due - taken
    row.updated_at = utcnow()


def minimum_transfer(session: Session) -> Decimal:
    return Decimal(str(panel_settings.get(session, "affiliate_min_transfer")))


def check_transfer_key(key: str) -> str:
    key = key.strip()
    if not _KEY.fullmatch(key):
        raise AffiliateRefused(N_("This form has expired; open the page again"))
    return key


def transfer(session: Session, user_id: int, raw_amount: str | Decimal, key: str
             ) -> Transferred:
    """Move money from the customer's affiliate balance to their panel balance, once per
    ``key`` (the form's one-time token)."""
    key = check_transfer_key(key)
    try:
        amount = parse_money(raw_amount)
    except MoneyError:
        raise AffiliateRefused(N_("Enter an amount, like 25 or 25.50")) from None
    if amount <= 0:
        raise AffiliateRefused(N_("Enter an amount, like 25 or 25.50"))
    entry_key = f"affiliate:transfer:{user_id}:{key}"
    # The panel account first, then the affiliate row (the module's lock order).
    session.execute(
        select(User.id).where(User.id == user_id).with_for_update(key_share=True)
    ).scalar_one()
    balance = _lock(session, user_id)
    done = session.scalar(select(AffiliateEntry.amount).where(AffiliateEntry.key == entry_key))
    if done is not None:
        return Transferred(-done, replayed=True)
    minimum = minimum_transfer(session)
    if amount < minimum:
        raise AffiliateRefused(N_("The smallest amount you can move is {min}"),
                               min=format_money(minimum))
    if amount > balance:
        raise NotEnoughAffiliateFunds()
    _move(session, user_id, -amount, kind=TRANSFER, key=entry_key)
    post(session, user_id=user_id, amount=amount, kind=AFFILIATE, key=entry_key,
         event=events.AFFILIATE_TRANSFER, params=event_params())
    return Transferred(amount, replayed=False)


# --- reading -------------------------------------------------------------------------------------


def stats(session: Session, user_id: int) -> Stats:
    affiliate = session.get(Affiliate, user_id)
    signups = session.scalar(
        select(func.count()).select_from(Referral).where(Referral.referrer_id == user_id))
    deposits, total, earned, shortfall = session.execute(
        select(func.count(AffiliateCommission.payment_id),
               _sum(AffiliateCommission.base),
               _sum(AffiliateCommission.amount - AffiliateCommission.reversed),
               _sum(AffiliateCommission.shortfall))
        .where(AffiliateCommission.affiliate_id == user_id, AffiliateCommission.amount > 0)
    ).one()
    own = affiliate.percent if affiliate is not None else None
    return Stats(
        code=affiliate.code if affiliate is not None else "",
        visits=affiliate.visits if affiliate is not None else 0,
        signups=int(signups or 0),
        paid_deposits=int(deposits or 0),
        deposits_total=total,
        earned=earned,
        balance=affiliate.balance if affiliate is not None else Decimal(0),
        percent=own if own is not None else panel_percent(session),
        own_percent=own,
        shortfall=shortfall,
    )


def _sum(expression: ColumnElement[Any] | InstrumentedAttribute[Any]) -> ColumnElement[Decimal]:
    """``SUM(expression)`` as money (zero when there are no rows)."""
    return type_coerce(func.coalesce(func.sum(expression), 0), Money())


def referrals(session: Session, user_id: int, limit: int = 50) -> list[ReferralRow]:
    """The customer's referred sign-ups, newest first, with what each earned them."""
    per_user = (
        select(Payment.user_id.label("user_id"),
               func.count(AffiliateCommission.payment_id).label("deposits"),
               _sum(AffiliateCommission.amount - AffiliateCommission.reversed)
               .label("earned"))
        .join(Payment, Payment.id == AffiliateCommission.payment_id)
        .where(AffiliateCommission.affiliate_id == user_id, AffiliateCommission.amount > 0)
        .group_by(Payment.user_id)
        .subquery()
    )
    rows = session.execute(
        select(User.name, Referral.created_at, per_user.c.deposits, per_user.c.earned)
        .join(User, User.id == Referral.user_id)
        .outerjoin(per_user, per_user.c.user_id == Referral.user_id)
        .where(Referral.referrer_id == user_id)
        .order_by(Referral.created_at.desc(), Referral.user_id.desc())
        .limit(limit)
    ).all()
    zero = Decimal(0).quantize(QUANTUM)
    return [ReferralRow(masked(name), joined, int(deposits or 0),
                        earned if earned is not None else zero)
            for name, joined, deposits, earned in rows]


def masked(name: str) -> str:
    """A referred customer's name as their referrer sees it: enough to recognise, not to
    find the account."""
    if len(name) <= 3:
        return name[0] + "…"
    return name[:3] + "…"


def entries(session: Session, user_id: int, limit: int = 50) -> list[AffiliateEntry]:
    return list(session.scalars(
        select(AffiliateEntry).where(AffiliateEntry.user_id == user_id)
        .order_by(AffiliateEntry.id.desc()).limit(limit)
    ))


def check(session: Session) -> list[tuple[int, Decimal, Decimal]]:
    """Every affiliate whose balance is not the sum of its entries: (user, balance, sum)."""
    totals = (
        select(AffiliateEntry.user_id, _sum(AffiliateEntry.amount).label("total"))
        .group_by(AffiliateEntry.user_id).subquery()
    )
    summed_total = type_coerce(func.coalesce(totals.c.total, 0), Money())
    rows = session.execute(
        select(Affiliate.user_id, Affiliate.balance, summed_total)
        .outerjoin(totals, totals.c.user_id == Affiliate.user_id)
    ).all()
    wrong = []
    for user_id, balance, summed in rows:
        if balance != summed:
            wrong.append((int(user_id), balance, summed))
    return wrong
