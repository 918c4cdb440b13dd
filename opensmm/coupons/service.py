"""Coupons: staff make them, customers type them on Add funds, payments reserve and use them.

- ``check``: what a code gives on an amount, for the live figure on Add funds (no write).
- ``reserve``: inside the unit of work that writes a new payment, with the coupon's row
  locked (``FOR UPDATE``; SQLite's ``BEGIN IMMEDIATE`` already serializes writers), so the
  limits hold under concurrency: of two payments racing for the last use, one gets it.
- ``settled``: called by ``opensmm.payments.settle`` (and wherever a payment is closed
  directly) to mark the use ``used`` once its value is in the ledger, or ``released`` when
  the payment ended without being paid in full. A released use gives nothing, even if money
  arrives later: another customer may have taken the use meanwhile.

The coupon's value is fixed when the payment starts (the figure the customer saw) and is
credited by ``settle`` as its own ledger entry, ``payment:{id}:coupon``, when the payment is
paid in full.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_DOWN, Decimal

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from opensmm.accounts.models import User
from opensmm.audit import service as audit
from opensmm.audit.actor import Actor
from opensmm.coupons.models import (
    AMOUNT,
    HELD,
    PERCENT,
    RELEASED,
    RESERVED,
    USED,
    Coupon,
    CouponUse,
)
from opensmm.db import utcnow
from opensmm.errors import DomainError, NotFound
from opensmm.i18n import N_
from opensmm.money import MAX_AMOUNT, QUANTUM, MoneyError, format_money, parse_money
from opensmm.payments.gateways.base import PaymentState
from opensmm.payments.models import Payment

CODE = re.compile(r"[A-Z0-9_-]{3,32}")
MAX_PERCENT = Decimal(100)
MAX_LIMIT = 1_000_000
MAX_YEARS = 50


class CouponRefused(DomainError):
    pass


class CouponNotFound(NotFound):
    message = N_("There is no such coupon")


@dataclass(frozen=True)
class CouponQuote:
    """What a code gives on a deposit: shown live on Add funds."""

    code: str
    kind: str  # "amount" or "percent"
    percent: Decimal | None
    value: Decimal


@dataclass(frozen=True)
class CouponRow:
    coupon: Coupon
    reserved: int
    used: int

    @property
    def expired(self) -> bool:
        return self.coupon.expires_at is not None and utcnow() >= self.coupon.expires_at


@dataclass(frozen=True)
class UseRow:
    use: CouponUse
    user_name: str
    payment_state: str


# --- codes and terms -------------------------------------------------------------------------


def clean_code(raw: str) -> str:
    code = "".join(raw.split()).upper() if isinstance(raw, str) else ""
    if not CODE.fullmatch(code):
        raise CouponRefused(
            N_("A coupon code is 3 to 32 letters (A-Z), digits, - or _")
        )
    return code


def value_on(coupon: Coupon, amount: Decimal) -> Decimal:
    """What ``coupon`` gives on a deposit of ``amount``: a percent is rounded down."""
    if coupon.kind == PERCENT:
        return (amount * coupon.value / MAX_PERCENT).quantize(QUANTUM, rounding=ROUND_DOWN)
    return coupon.value.quantize(QUANTUM)


def expiry_of(day: date) -> datetime:
    """A coupon that "expires 2026-12-31" is usable through that day (UTC)."""
    return datetime.combine(day + timedelta(days=1), time(), tzinfo=UTC)


def _find(session: Session, code: str, *, lock: bool = False) -> Coupon:
    query = select(Coupon).where(Coupon.code == code)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    coupon = session.scalar(query)
    if coupon is None:
        raise CouponRefused(N_("The coupon {code} does not exist"), code=code)
    return coupon


def _counts(session: Session, coupon_id: int, user_id: int) -> tuple[int, int]:
    """Uses held (reserved or used) in all, and by this customer."""
    mine = func.sum(case((CouponUse.user_id == user_id, 1), else_=0))
    total, by_user = session.execute(
        select(func.count(CouponUse.id), mine).where(
            CouponUse.coupon_id == coupon_id, CouponUse.state.in_(HELD)
        )
    ).one()
    return int(total or 0), int(by_user or 0)


def _parse_amount(amount: Decimal | str) -> Decimal:
    try:
        value = parse_money(amount)
    except MoneyError:
        raise CouponRefused(N_("Enter an amount, like 25 or 25.50")) from None
    if value <= 0:
        raise CouponRefused(N_("Enter an amount, like 25 or 25.50"))
    return value


def _usable(session: Session, coupon: Coupon, user_id: int, amount: Decimal) -> Decimal:
    """The coupon's value on ``amount`` for this customer, or the reason it gives none."""
    if not coupon.enabled:
        raise CouponRefused(N_("The coupon {code} is no longer valid"), code=coupon.code)
    if coupon.expires_at is not None and utcnow() >= coupon.expires_at:
        raise CouponRefused(N_("The coupon {code} has expired"), code=coupon.code)
    if coupon.min_deposit is not None and amount < coupon.min_deposit:
        raise CouponRefused(N_("The coupon {code} needs a deposit of at least {min}"),
                            code=coupon.code, min=format_money(coupon.min_deposit))
    total, mine = _counts(session, coupon.id, user_id)
    if coupon.max_uses is not None and total >= coupon.max_uses:
        raise CouponRefused(N_("The coupon {code} has been used up"), code=coupon.code)
    if coupon.per_customer is not None and mine >= coupon.per_customer:
        raise CouponRefused(N_("You have already used the coupon {code} as often as it "
                               "allows"), code=coupon.code)
    value = value_on(coupon, amount)
    if value <= 0:
        raise CouponRefused(N_("The coupon {code} gives nothing on this amount"),
                            code=coupon.code)
    return value


def _quote(coupon: Coupon, value: Decimal) -> CouponQuote:
    return CouponQuote(coupon.code, coupon.kind,
                       coupon.value if coupon.kind == PERCENT else None, value)


# --- customers ---------------------------------------------------------------------------------


def check(session: Session, user_id: int, code: str, amount: Decimal | str) -> CouponQuote:
    """What ``code`` gives this customer on a deposit of ``amount``, or a ``CouponRefused``
    saying why it gives nothing (for the live figure; ``reserve`` checks again)."""
    coupon = _find(session, clean_code(code))
    return _quote(coupon, _usable(session, coupon, user_id, _parse_amount(amount)))


def reserve(session: Session, payment: Payment, code: str) -> CouponQuote:
    """Reserve one use of ``code`` for a payment being written (same unit of work)."""
    coupon = _find(session, clean_code(code), lock=True)
    value = _usable(session, coupon, payment.user_id, payment.amount)
    session.add(CouponUse(coupon_id=coupon.id, user_id=payment.user_id, payment_id=payment.id,
                          value=value, state=RESERVED, created_at=utcnow(),
                          updated_at=utcnow()))
    payment.coupon_value = value
    session.flush()
    return _quote(coupon, value)


def coupon_target(payment: Payment) -> Decimal:
    """What the ledger should hold of the payment's coupon: all of it once paid in full."""
    if payment.coupon_value > 0 and payment.paid_target >= payment.amount:
        return payment.coupon_value
    return Decimal(0)


def _ended_unpaid(payment: Payment) -> bool:
    state = PaymentState(payment.state)
    if state in (PaymentState.EXPIRED, PaymentState.FAILED):
        return True
    # The gateway closed it short of the amount (an underpaid crypto invoice that expired).
    if payment.closed_as and payment.paid_target < payment.amount:
        return True
    # Staff approved a manual payment for less than was asked: no more money will come.
    return (payment.gateway == "manual" and payment.paid_target > 0
            and payment.paid_target < payment.amount)


def settled(session: Session, payment: Payment) -> None:
    """Keep the payment's coupon use in step with it (the payment's row is locked)."""
    if payment.coupon_value <= 0 and payment.coupon <= 0:
        return
    if payment.coupon > 0:
        session.execute(
            update(CouponUse).where(CouponUse.payment_id == payment.id,
                                    CouponUse.state == RESERVED)
            .values(state=USED, updated_at=utcnow())
        )
    elif _ended_unpaid(payment):
        session.execute(
            update(CouponUse).where(CouponUse.payment_id == payment.id,
                                    CouponUse.state == RESERVED)
            .values(state=RELEASED, updated_at=utcnow())
        )
        payment.coupon_value = Decimal(0)


def use_of(session: Session, payment_id: int) -> tuple[CouponUse, str] | None:
    """A payment's coupon use and the coupon's code (for the payment's pages)."""
    found = session.execute(
        select(CouponUse, Coupon.code).join(Coupon, Coupon.id == CouponUse.coupon_id)
        .where(CouponUse.payment_id == payment_id)
    ).first()
    return None if found is None else (found[0], found[1])


# --- staff -------------------------------------------------------------------------------------


def _limit(value: int | None, label: str) -> int | None:
    if value is None:
        return None
    if not 1 <= value <= MAX_LIMIT:
        raise CouponRefused(N_("{label} must be from 1 to {max}"), label=label, max=MAX_LIMIT)
    return value


def create(
    session: Session,
    actor: Actor,
    code: str,
    *,
    amount: Decimal | None = None,
    percent: Decimal | None = None,
    max_uses: int | None = None,
    per_customer: int | None = None,
    expires: date | None = None,
    min_deposit: Decimal | None = None,
) -> Coupon:
    code = clean_code(code)
    if (amount is None) == (percent is None):
        raise CouponRefused(N_("A coupon gives either a fixed amount or a percent"))
    if amount is not None:
        kind, value = AMOUNT, amount
        if not Decimal(0) < amount < MAX_AMOUNT:
            raise CouponRefused(N_("The coupon's amount must be more than zero"))
    else:
        assert percent is not None
        kind, value = PERCENT, percent
        if not Decimal(0) < percent <= MAX_PERCENT:
            raise CouponRefused(N_("The coupon's percent must be more than 0 and at most 100"))
    if value != value.quantize(QUANTUM):
        raise CouponRefused(N_("At most {places} decimals"), places=5)
    if min_deposit is not None and not Decimal(0) <= min_deposit < MAX_AMOUNT:
        raise CouponRefused(N_("The minimum deposit must be zero or more"))
    if expires is not None and expires.year > utcnow().year + MAX_YEARS:
        raise CouponRefused(N_("The expiry date is more than {years} years ahead"),
                            years=MAX_YEARS)
    expires_at = expiry_of(expires) if expires is not None else None
    if expires_at is not None and expires_at <= utcnow():
        raise CouponRefused(N_("The expiry date is in the past"))
    if session.scalar(select(Coupon.id).where(Coupon.code == code)) is not None:
        raise CouponRefused(N_("The coupon {code} exists already"), code=code)
    coupon = Coupon(
        code=code, kind=kind, value=value,
        max_uses=_limit(max_uses, N_("The usage limit")),
        per_customer=_limit(per_customer, N_("The per-customer limit")),
        expires_at=expires_at, min_deposit=min_deposit or None, enabled=True,
        created_at=utcnow(),
    )
    session.add(coupon)
    session.flush()
    audit.record(
        session, actor, "coupon.create", f"coupon:{coupon.id}", code=code,
        value=format_money(value) if kind == AMOUNT else f"{value.normalize():f}%",
        max_uses=max_uses if max_uses is not None else "-",
        per_customer=per_customer if per_customer is not None else "-",
        expires=expires.isoformat() if expires else "-",
        min_deposit=format_money(min_deposit) if min_deposit else "-",
    )
    return coupon


def disable(session: Session, actor: Actor, code: str) -> Coupon:
    """Refuse the code from now on; payments that reserved it keep their value."""
    coupon = _find(session, clean_code(code), lock=True)
    if not coupon.enabled:
        raise CouponRefused(N_("The coupon {code} is disabled already"), code=coupon.code)
    coupon.enabled = False
    audit.record(session, actor, "coupon.disable", f"coupon:{coupon.id}", code=coupon.code)
    return coupon


def list_coupons(session: Session, coupon_id: int | None = None) -> list[CouponRow]:
    reserved = func.sum(case((CouponUse.state == RESERVED, 1), else_=0))
    used = func.sum(case((CouponUse.state == USED, 1), else_=0))
    query = (
        select(Coupon, reserved, used).outerjoin(CouponUse, CouponUse.coupon_id == Coupon.id)
        .group_by(Coupon.id).order_by(Coupon.id.desc())
    )
    if coupon_id is not None:
        query = query.where(Coupon.id == coupon_id)
    rows = session.execute(query).all()
    return [CouponRow(coupon, int(r or 0), int(u or 0)) for coupon, r, u in rows]


def get(session: Session, coupon_id: int) -> CouponRow:
    found = list_coupons(session, coupon_id)
    if not found:
        raise CouponNotFound()
    return found[0]


def uses(session: Session, coupon_id: int, limit: int = 200) -> list[UseRow]:
    rows = session.execute(
        select(CouponUse, User.name, Payment.state)
        .join(User, User.id == CouponUse.user_id)
        .join(Payment, Payment.id == CouponUse.payment_id)
        .where(CouponUse.coupon_id == coupon_id)
        .order_by(CouponUse.id.desc()).limit(limit)
    ).all()
    return [UseRow(use, name, state) for use, name, state in rows]
