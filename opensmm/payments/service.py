"""A customer's payment from start to end, and what staff do with manual ones.

Starting a payment takes two units of work around the gateway's call, never one open
across it: the row is written first (``pending``, with our random token), the gateway is
asked, and its answer (its id, where to send the customer) is written after. A crash between
the gateway's answer and our second commit loses nothing: the callback names our token, and
the worker polls what it can find.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from opensmm.accounts.models import USER_ACTIVE, User
from opensmm.audit import service as audit
from opensmm.audit.actor import Actor
from opensmm.coupons import service as coupons
from opensmm.db import Database, utcnow
from opensmm.errors import DomainError, NotFound
from opensmm.i18n import N_
from opensmm.money import MAX_AMOUNT, MoneyError, format_money, parse_money
from opensmm.payments import methods as payment_methods
from opensmm.payments.gateways import (
    GatewayError,
    PaymentRequest,
    PaymentState,
)
from opensmm.payments.gateways.manual import InvalidReference, clean_reference
from opensmm.payments.gateways.units import exponent
from opensmm.payments.models import OPEN, Payment, PaymentMethod, PaymentProof
from opensmm.payments.proofs import Proof
from opensmm.payments.quote import Quote, Terms, quote
from opensmm.payments.reports import EventRefused, Report, apply, remember_references
from opensmm.payments.settle import lock
from opensmm.settings import get_settings

log = logging.getLogger("opensmm.payments")

# A customer may have this many manual payments waiting for staff, and start this many
# payments an hour: enough for anyone paying, not enough to flood staff or a gateway.
MAX_WAITING_MANUAL = 5
MAX_STARTED_PER_HOUR = 20


class PaymentRefused(DomainError):
    pass


@dataclass(frozen=True)
class Started:
    payment_id: int
    token: str
    state: str
    redirect_url: str | None
    instructions: str | None
    # The coupon's value reserved for the payment (credited once it is paid in full).
    coupon: Decimal = Decimal(0)


def terms(method: PaymentMethod) -> Terms:
    return Terms(method.fee_percent, method.bonus_percent, method.bonus_from)


def preview(method: PaymentMethod, amount: Decimal) -> Quote:
    """What paying ``amount`` through ``method`` gives (the live figure on Add funds)."""
    return quote(amount, terms(method))


def check_amount(method: PaymentMethod, raw: str | Decimal, currency: str) -> Decimal:
    try:
        amount = parse_money(raw)
    except MoneyError:
        raise PaymentRefused(N_("Enter an amount, like 25 or 25.50")) from None
    places = exponent(currency)
    if amount != amount.quantize(Decimal(1).scaleb(-places)):
        raise PaymentRefused(N_("An amount in {currency} has at most {places} decimals"),
                             currency=currency, places=places)
    if amount < method.min_amount:
        raise PaymentRefused(N_("The minimum deposit with {method} is {min}"),
                             method=method.label, min=format_money(method.min_amount))
    if method.max_amount is not None and amount > method.max_amount:
        raise PaymentRefused(N_("The maximum deposit with {method} is {max}"),
                             method=method.label, max=format_money(method.max_amount))
    return amount


def _check_customer(session: Session, user_id: int, method: PaymentMethod) -> None:
    status = session.scalar(select(User.status).where(User.id == user_id))
    if status != USER_ACTIVE:
        raise PaymentRefused(N_("This account cannot add funds"))
    since = utcnow() - timedelta(hours=1)
    started = session.scalar(select(func.count(Payment.id)).where(
        Payment.user_id == user_id, Payment.created_at >= since))
    if (started or 0) >= MAX_STARTED_PER_HOUR:
        raise PaymentRefused(N_("Too many payments started in the last hour; try again later"))
    if method.gateway != "manual":
        return
    waiting = session.scalar(select(func.count(Payment.id)).where(
        Payment.user_id == user_id, Payment.gateway == "manual",
        Payment.state == PaymentState.PENDING.value))
    if (waiting or 0) >= MAX_WAITING_MANUAL:
        raise PaymentRefused(
            N_("You have {count} payments waiting for approval; wait until staff check them"),
            count=MAX_WAITING_MANUAL)


def _create_row(session: Session, *, user_id: int, method: PaymentMethod, amount: Decimal,
                currency: str, reference: str | None, proof: Proof | None) -> Payment:
    payment = Payment(
        token=secrets.token_urlsafe(18), user_id=user_id, method_id=method.id,
        gateway=method.gateway, state=PaymentState.PENDING.value, amount=amount,
        currency=currency, fee_percent=method.fee_percent, bonus_percent=method.bonus_percent,
        bonus_from=method.bonus_from, paid_target=Decimal(0), refund_target=Decimal(0),
        disputed=False, paid=Decimal(0), fee=Decimal(0), bonus=Decimal(0),
        reversed=Decimal(0), shortfall=Decimal(0), reference=reference, needs_review=False,
        note="", last_error="", poll_count=0,
        next_poll_at=None if method.gateway == "manual"
        else utcnow() + timedelta(seconds=get_settings().payment_poll_seconds),
    )
    session.add(payment)
    session.flush()
    if proof is not None:
        session.add(PaymentProof(payment_id=payment.id, content_type=proof.content_type,
                                 data=proof.data))
    return payment


def start(
    db: Database,
    panel_secret: str,
    *,
    user_id: int,
    method_name: str,
    amount: str | Decimal,
    base_url: str,
    customer_reference: str | None = None,
    proof: Proof | None = None,
    coupon_code: str | None = None,
) -> Started:
    """Start a payment of ``amount`` (the panel's currency) through a method, with a coupon
    when ``coupon_code`` is given (reserved with the payment: refused, nothing is written)."""
    currency = get_settings().currency.upper()
    with db.write() as session:
        method = payment_methods.find_method(session, method_name, enabled_only=True)
        checked = check_amount(method, amount, currency)
        _check_customer(session, user_id, method)
        reference = None
        if method.gateway == "manual":
            try:
                reference = clean_reference(customer_reference)
            except InvalidReference:
                raise PaymentRefused(
                    N_("Enter the reference of your payment (3 to 100 characters)")) from None
        payment = _create_row(session, user_id=user_id, method=method, amount=checked,
                              currency=currency, reference=reference, proof=proof)
        if coupon_code is not None and coupon_code.strip():
            coupons.reserve(session, payment, coupon_code)
        payment_id, token, coupon = payment.id, payment.token, payment.coupon_value
        gateway = payment_methods.open_gateway(method, panel_secret)
        callback = base_url.rstrip("/") + payment_methods.callback_path(method)
        automatic = gateway.automatic
    base = base_url.rstrip("/")
    request = PaymentRequest(
        payment_id=token, amount=checked, currency=currency,
        return_url=f"{base}/funds/payments/{token}/return",
        cancel_url=f"{base}/funds/payments/{token}", callback_url=callback,
        description=f"Add funds #{payment_id}", customer_reference=reference,
    )
    try:
        created = gateway.create_payment(request)
    except GatewayError as exc:
        with db.write() as session:
            payment = lock(session, payment_id)
            payment.closed_as = PaymentState.FAILED.value
            payment.state = PaymentState.FAILED.value
            payment.last_error = exc.message[:500]
            payment.updated_at = utcnow()
            coupons.settled(session, payment)  # the coupon's use is released
        log.warning("payment %s: the gateway refused to start it: %s", payment_id, exc.message)
        raise PaymentRefused(
            N_("The payment could not be started; try again or choose another method")
        ) from None
    finally:
        gateway.close()
    with db.write() as session:
        payment = lock(session, payment_id)
        payment.redirect_url = created.redirect_url
        if automatic:
            payment.reference = created.reference[:200]
            remember_references(session, payment, (created.reference,))
        payment.updated_at = utcnow()
        state = payment.state
    return Started(payment_id, token, state, created.redirect_url, created.instructions,
                   coupon)


# --- manual payments: staff decide -------------------------------------------------------------


def _manual_waiting(session: Session, payment_id: int) -> tuple[Payment, PaymentMethod]:
    payment = session.get(Payment, payment_id)
    if payment is None:
        raise NotFound(N_("No payment #{id}"), id=payment_id)
    payment = lock(session, payment_id)
    if payment.gateway != "manual":
        raise PaymentRefused(N_("Only manual payments are approved or rejected by staff; "
                                "#{id} is settled by its gateway"), id=payment_id)
    if payment.state != PaymentState.PENDING.value:
        raise PaymentRefused(N_("Payment #{id} is {state} already"), id=payment_id,
                             state=payment.state)
    method = session.get(PaymentMethod, payment.method_id)
    assert method is not None
    return payment, method


def _source(actor: Actor) -> str:
    """Who decided, as the payment's events show it: staff (back office), api, cli."""
    return {"web": "staff", "api": "api"}.get(actor.door, "cli")


def approve(session: Session, actor: Actor, payment_id: int,
            amount: Decimal | None = None) -> Payment:
    """Credit a manual payment staff found in their account (``amount``: what really came)."""
    payment, method = _manual_waiting(session, payment_id)
    credited = payment.amount if amount is None else amount
    if not 0 < credited < MAX_AMOUNT:
        raise PaymentRefused(N_("The amount received must be more than zero"))
    report = Report(
        source=_source(actor), event_id=f"approve:{payment.id}",
        event_type="staff.approve", state=PaymentState.PAID, amount=credited,
        currency=payment.currency, needs_review=credited != payment.amount,
        note="", raw={"by": actor.name},
    )
    try:
        apply(session, payment.id, method, report)
    except EventRefused as exc:  # cannot happen for a manual payment's own currency
        raise PaymentRefused(N_("Payment #{id} cannot be approved: {reason}"), id=payment_id,
                             reason=exc.message) from None
    payment.needs_review = False
    audit.record(session, actor, "payment.approve", f"payment:{payment.id}",
                 payment=payment.id, amount=format_money(credited),
                 user=_user_name(session, payment.user_id))
    return payment


def reject(session: Session, actor: Actor, payment_id: int, reason: str) -> Payment:
    reason = " ".join(reason.split())
    if not 3 <= len(reason) <= 500:
        raise PaymentRefused(N_("Give the customer a reason (3 to 500 characters)"))
    payment, method = _manual_waiting(session, payment_id)
    report = Report(
        source=_source(actor), event_id=f"reject:{payment.id}",
        event_type="staff.reject", state=PaymentState.FAILED, amount=None, currency=None,
        note=reason, raw={"by": actor.name},
    )
    apply(session, payment.id, method, report)
    audit.record(session, actor, "payment.reject", f"payment:{payment.id}",
                 payment=payment.id, reason=reason, user=_user_name(session, payment.user_id))
    return payment


def mark_reviewed(session: Session, actor: Actor, payment_id: int, note: str) -> Payment:
    """Staff looked at what the gateway flagged (an over- or underpayment, a shortfall)."""
    payment = session.get(Payment, payment_id)
    if payment is None:
        raise NotFound(N_("No payment #{id}"), id=payment_id)
    payment = lock(session, payment_id)
    if not payment.needs_review:
        raise PaymentRefused(N_("Payment #{id} needs no review"), id=payment_id)
    note = " ".join(note.split())[:500]
    payment.needs_review = False
    payment.updated_at = utcnow()
    audit.record(session, actor, "payment.reviewed", f"payment:{payment.id}",
                 payment=payment.id, note=note or "-")
    return payment


def _user_name(session: Session, user_id: int) -> str:
    return session.scalar(select(User.name).where(User.id == user_id)) or "?"


def is_open(payment: Payment) -> bool:
    return PaymentState(payment.state) in OPEN
