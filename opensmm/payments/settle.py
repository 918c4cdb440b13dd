"""From what the gateway reported to state and ledger entries, the same way every time.

A payment keeps the facts its gateway reported (``paid_target``, ``refund_target``,
``disputed``, ``closed_as``), each only ever growing, and mirrors of what the ledger holds for
it (``paid``, ``fee``, ``bonus``, ``reversed``). ``settle`` posts the difference between the
two and derives the state from the facts. So the same callback delivered twice posts
nothing the second time, and callbacks in any order end the same: a refund reported before
the payment leaves the state ``refunded`` with nothing credited, and the payment, when it is
reported, is credited and taken back in the same transaction.

Every entry has a key of the payment's own (``payment:{id}:credit`` first, then
``payment:{id}:credit:{total}`` should more money arrive later), so even two transactions
that both read stale mirrors could not post one amount twice: the ledger's unique index
refuses the second.

A refund or dispute takes back what the payment credited (net of fee, with its bonus and
coupon), in proportion to the part refunded, but never more than the balance holds: what the
customer already spent is recorded as ``shortfall`` and the payment is marked for staff.

A coupon reserved when the payment started (``coupon_value``) is credited as its own entry,
``payment:{id}:coupon``, once the payment is paid in full (``opensmm.coupons``). The
referrer's commission on the deposit moves in the same transaction
(``opensmm.affiliates.service.settle_commission``), on the affiliate balance.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from opensmm.accounts.models import User
from opensmm.affiliates import service as affiliates
from opensmm.coupons import service as coupons
from opensmm.db import utcnow
from opensmm.events import EventType
from opensmm.events import params as event_params
from opensmm.ledger.models import PAYMENT
from opensmm.ledger.service import post
from opensmm.payments import events
from opensmm.payments.gateways.base import PaymentState
from opensmm.payments.models import Payment
from opensmm.payments.quote import Terms, quote, share


def terms_of(payment: Payment) -> Terms:
    return Terms(payment.fee_percent, payment.bonus_percent, payment.bonus_from)


def lock(session: Session, payment_id: int) -> Payment:
    """The payment's row, locked for this transaction (lock order: payment, account, ledger)."""
    return session.execute(
        select(Payment).where(Payment.id == payment_id).with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()


def derived_state(payment: Payment) -> PaymentState:
    if payment.disputed:
        return PaymentState.DISPUTED
    if payment.refund_target > 0:
        return PaymentState.REFUNDED
    if payment.paid_target > 0:
        if payment.paid_target < payment.amount and payment.gateway != "manual":
            return PaymentState.PARTIALLY_PAID
        return PaymentState.PAID
    if payment.closed_as:
        return PaymentState(payment.closed_as)
    return PaymentState.PENDING


def _key(payment: Payment, part: str, first: bool, target: Decimal) -> str:
    base = f"payment:{payment.id}:{part}"
    return base if first else f"{base}:{format(target, 'f')}"


def _move(
    session: Session,
    payment: Payment,
    *,
    part: str,
    amount: Decimal,
    first: bool,
    target: Decimal,
    event: EventType,
    method: str,
) -> None:
    post(
        session,
        user_id=payment.user_id,
        amount=amount,
        kind=PAYMENT,
        key=_key(payment, part, first, target),
        event=event,
        params=event_params(payment=payment.id, method=method),
    )


def settle(session: Session, payment: Payment, method: str) -> None:
    """Bring the ledger and the state in line with the facts; the payment's row is locked."""
    target = quote(payment.paid_target, terms_of(payment))
    if target.paid > payment.paid:
        _move(session, payment, part="credit", amount=target.paid - payment.paid,
              first=payment.paid == 0, target=target.paid, event=events.PAYMENT_CREDIT,
              method=method)
    if target.fee > payment.fee:
        _move(session, payment, part="fee", amount=-(target.fee - payment.fee),
              first=payment.fee == 0, target=target.fee, event=events.PAYMENT_FEE,
              method=method)
    if target.bonus > payment.bonus:
        _move(session, payment, part="bonus", amount=target.bonus - payment.bonus,
              first=payment.bonus == 0, target=target.bonus, event=events.PAYMENT_BONUS,
              method=method)
    coupon = coupons.coupon_target(payment)
    if coupon > payment.coupon:
        _credit_coupon(session, payment, coupon, method)
    payment.paid, payment.fee, payment.bonus, payment.coupon = (
        max(payment.paid, target.paid), max(payment.fee, target.fee),
        max(payment.bonus, target.bonus), max(payment.coupon, coupon),
    )
    affiliates.settle_commission(session, payment)
    _take_back(session, payment, method)
    state = derived_state(payment)
    if state != payment.state:
        payment.state = state.value
        if state != PaymentState.PENDING and payment.settled_at is None:
            payment.settled_at = utcnow()
    coupons.settled(session, payment)
    payment.updated_at = utcnow()


def _credit_coupon(session: Session, payment: Payment, target: Decimal, method: str) -> None:
    use = coupons.use_of(session, payment.id)
    post(
        session,
        user_id=payment.user_id,
        amount=target - payment.coupon,
        kind=PAYMENT,
        key=_key(payment, "coupon", payment.coupon == 0, target),
        event=events.PAYMENT_COUPON,
        params=event_params(payment=payment.id, method=method,
                            coupon=use[1] if use is not None else ""),
    )


def _reversal_target(payment: Payment) -> Decimal:
    net = payment.paid - payment.fee + payment.bonus + payment.coupon
    if payment.disputed:
        return net
    if payment.refund_target > 0:
        return share(net, payment.refund_target, payment.paid)
    return Decimal(0)


def _take_back(session: Session, payment: Payment, method: str) -> None:
    target = _reversal_target(payment)
    due = target - payment.reversed - payment.shortfall
    if due <= 0:
        return
    balance = session.execute(
        select(User.balance).where(User.id == payment.user_id).with_for_update(key_share=True)
    ).scalar_one()
    taken = min(due, balance)
    if taken > 0:
        _move(session, payment, part="reversal", amount=-taken,
              first=payment.reversed == 0 and payment.shortfall == 0, target=target,
              event=events.PAYMENT_DISPUTED if payment.disputed else events.PAYMENT_REFUNDED,
              method=method)
        payment.reversed += taken
    if taken < due:
        payment.shortfall += due - taken
        payment.needs_review = True
