"""Customer pages for money: the balance and its history, adding funds through a payment
method (with the fee and bonus shown live), a payment's own page, and its proof.

Starting a payment calls the gateway, so that page opens its own units of work
(``service.start``); the figures shown live come from the same rule the payment is settled
with (``service.preview``).
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session
from starlette.responses import Response

from opensmm.accounts.models import User
from opensmm.coupons import service as coupons
from opensmm.db.pagination import page_number
from opensmm.errors import DomainError, NotFound
from opensmm.i18n import N_
from opensmm.ledger import queries as ledger_queries
from opensmm.payments import methods as payment_methods
from opensmm.payments import polling, proofs, queries
from opensmm.payments import service as payments
from opensmm.payments.models import OPEN, Payment, PaymentMethod, PaymentProof
from opensmm.web.context import Ctx
from opensmm.web.framework import Pages, served_over_https
from opensmm.web.i18n import panel_default_language

pages = Pages()

TOKEN = re.compile(r"[A-Za-z0-9_-]{1,32}")

HISTORY_SIZE = 20
# How often a payment's page asks again while it waits (seconds): a gateway's answer comes
# within seconds; staff take longer.
REFRESH_AUTOMATIC = 3
REFRESH_MANUAL = 30

STATE_LABELS = {
    "pending": N_("Pending"),
    "paid": N_("Paid"),
    "partially_paid": N_("Partially paid"),
    "expired": N_("Expired"),
    "failed": N_("Failed"),
    "refunded": N_("Refunded"),
    "disputed": N_("Disputed"),
}
GATEWAY_LABELS = {
    "manual": N_("Manual (bank transfer, cash...)"),
    "stripe": "Stripe",
    "paypal": "PayPal",
    "nowpayments": "NOWPayments",
}
PROOF_NAMES = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp",
               "application/pdf": "pdf"}


def state_label(state: str) -> str:
    return STATE_LABELS.get(state, state)


def base_url(ctx: Ctx) -> str:
    """This panel's address as the visitor reached it (HTTPS when a trusted proxy says so):
    where gateways send the customer back and post their callbacks."""
    url = ctx.request.base_url
    scheme = "https" if served_over_https(ctx.request, ctx.web.trusted_proxies) else url.scheme
    return f"{scheme}://{url.netloc}"


def panel_secret(ctx: Ctx) -> str:
    return ctx.web.secret.get().decode()


def instructions(ctx: Ctx, method: PaymentMethod) -> str:
    text = payment_methods.instructions_for(method, ctx.lang, panel_default_language(ctx.web))
    if not text and method.gateway == "manual":
        text = str((method.settings or {}).get("instructions", ""))
    return text


def _method_payload(ctx: Ctx, method: PaymentMethod) -> dict[str, Any]:
    return {
        "name": method.name,
        "label": method.label,
        "manual": method.gateway == "manual",
        "min": method.min_amount,
        "max": method.max_amount,
        "fee": method.fee_percent,
        "bonus": method.bonus_percent,
        "bonus_from": method.bonus_from,
        "instructions": instructions(ctx, method),
    }


@pages.get("/funds")
def funds(ctx: Ctx) -> Response:
    page = ledger_queries.history(ctx.db, user_id=ctx.me.id, page=page_number(ctx.arg("page")))
    methods = [_method_payload(ctx, m)
               for m in payment_methods.list_methods(ctx.db, enabled_only=True)]
    history = queries.list_payments(ctx.db, queries.PaymentFilter(user_id=ctx.me.id), 1,
                                    per_page=HISTORY_SIZE)
    values = {k: ctx.field(k) for k in ("method", "amount", "reference", "coupon")}
    return ctx.render("funds.html", page=page, methods=methods, payments=history.items,
                      state_label=state_label, values=values)


@pages.get("/funds/preview")
def preview(ctx: Ctx) -> Response:
    """What an amount gives through a method, for the figures shown as the customer types."""
    try:
        method = payment_methods.find_method(ctx.db, ctx.arg("method"), enabled_only=True)
        amount = payments.check_amount(method, ctx.arg("amount"),
                                       ctx.web.settings.currency.upper())
    except DomainError as exc:  # read-only: nothing to roll back
        return ctx.json({"error": ctx.t.error(exc)})
    quote = payments.preview(method, amount)
    bonus_of_coupon = Decimal(0)
    if ctx.arg("coupon").strip():
        try:
            bonus_of_coupon = coupons.check(ctx.db, ctx.me.id, ctx.arg("coupon"), amount).value
        except DomainError as exc:
            return ctx.json({"error": ctx.t.error(exc)})
    return ctx.json({
        "error": "",
        "paid": ctx.money(quote.paid),
        "fee": ctx.money(quote.fee),
        "bonus": ctx.money(quote.bonus),
        "coupon": ctx.money(bonus_of_coupon),
        "credit": ctx.money(quote.credit + bonus_of_coupon),
    })


def _is_manual(ctx: Ctx, name: str) -> bool:
    with ctx.web.db.read() as session:
        method = payment_methods.find_method(session, name, enabled_only=True)
        return method.gateway == "manual"


@pages.post("/funds/add", unit="none", upload="proof", refused=funds)
def add_funds(ctx: Ctx) -> Response:
    name = ctx.field("method").strip()
    manual = _is_manual(ctx, name)
    proof = proofs.read_proof(ctx.files.get("proof", b"")) if manual else None
    started = payments.start(
        ctx.web.db, panel_secret(ctx), user_id=ctx.me.id, method_name=name,
        amount=ctx.field("amount").strip(), base_url=base_url(ctx),
        customer_reference=ctx.field("reference") if manual else None, proof=proof,
        coupon_code=ctx.field("coupon").strip() or None,
    )
    if not manual and started.redirect_url and started.redirect_url.startswith(
            ("https://", "http://")):
        # To the gateway's own page, by a page that moves on by itself rather than a
        # redirect: the form's Content-Security-Policy (form-action 'self') would stop a
        # redirect to another site.
        with ctx.web.db.read() as session:
            ctx.session = session
            ctx.user = session.get(User, ctx.me.id)
            return ctx.render("payment_redirect.html", url=started.redirect_url,
                              token=started.token)
    if manual:
        ctx.flash("ok", ctx.t("Payment #{id} sent: staff will check it and credit your "
                              "balance.", id=started.payment_id))
    return ctx.redirect(f"/funds/payments/{started.token}")


def _own_payment(ctx: Ctx, session: Session) -> queries.PaymentRow:
    token = str(ctx.request.path_params.get("token", ""))
    # Tokens are URL-safe base64: anything else names no payment (and a NUL could not even
    # be bound as a parameter on PostgreSQL).
    row = (queries.by_token(session, token, ctx.me.id) if TOKEN.fullmatch(token) else None)
    if row is None:
        raise NotFound(N_("No such payment"))
    return row


@pages.get("/funds/payments/{token}")
def payment_page(ctx: Ctx) -> Response:
    row = _own_payment(ctx, ctx.db)
    payment = row.payment
    method = ctx.db.get(PaymentMethod, payment.method_id)
    assert method is not None
    waiting = payments.is_open(payment)
    manual = payment.gateway == "manual"
    refresh = (REFRESH_MANUAL if manual else REFRESH_AUTOMATIC) if waiting else None
    has_proof = ctx.db.get(PaymentProof, payment.id) is not None
    return ctx.render(
        "payment.html", row=row, payment=payment, state=state_label(payment.state),
        waiting=waiting, manual=manual, refresh=refresh, has_proof=has_proof,
        instructions=instructions(ctx, method) if manual and waiting else "",
        open_states={s.value for s in OPEN},
    )


@pages.get("/funds/payments/{token}/return", unit="none")
def payment_return(ctx: Ctx) -> Response:
    """The customer is back from the gateway: ask it once (PayPal is captured here)."""
    with ctx.web.db.read() as session:
        row = _own_payment(ctx, session)
        payment_id, token = row.payment.id, row.payment.token
    polling.refresh(ctx.web.db, panel_secret(ctx), payment_id, source="return")
    return ctx.redirect(f"/funds/payments/{token}")


def proof_response(proof: PaymentProof, payment: Payment) -> Response:
    """A proof as stored, with the type it was read as; a PDF is only ever downloaded."""
    extension = PROOF_NAMES.get(proof.content_type, "bin")
    disposition = "attachment" if proof.content_type == "application/pdf" else "inline"
    return Response(proof.data, media_type=proof.content_type, headers={
        "x-content-type-options": "nosniff",
        "content-disposition": f'{disposition}; filename="payment-{payment.id}.{extension}"',
        "cache-control": "private, no-store",
        "content-security-policy": "default-src 'none'; sandbox",
    })


@pages.get("/funds/payments/{token}/proof")
def payment_proof(ctx: Ctx) -> Response:
    row = _own_payment(ctx, ctx.db)
    proof = ctx.db.get(PaymentProof, row.payment.id)
    if proof is None:
        raise NotFound(N_("This payment has no proof"))
    return proof_response(proof, row.payment)
