"""Staff pages for payments (the list, a payment with everything its gateway said, approving
or rejecting manual ones) and for payment methods (gateway accounts, their limits and
words). Every change goes through ``opensmm.payments`` (which audits it)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from starlette.responses import Response

from opensmm.admin.users import amount_field, staff
from opensmm.db.pagination import page_number
from opensmm.errors import NotFound
from opensmm.i18n import N_
from opensmm.payments import methods as payment_methods
from opensmm.payments import queries
from opensmm.payments import service as payments
from opensmm.payments.gateways import GATEWAYS
from opensmm.payments.models import STATES, PaymentMethod, PaymentProof
from opensmm.web.context import Ctx
from opensmm.web.framework import Pages
from opensmm.web.funds import GATEWAY_LABELS, base_url, panel_secret, proof_response, state_label
from opensmm.web.i18n import LANGUAGES

pages = Pages()

# What each gateway setting is, for the form (the key itself is what the CLI takes).
SETTING_LABELS = {
    "secret_key": N_("Secret key"),
    "webhook_secret": N_("Webhook signing secret"),
    "api_base": N_("API address (leave empty for the gateway's own)"),
    "timeout": N_("Timeout (seconds)"),
    "client_id": N_("Client ID"),
    "client_secret": N_("Client secret"),
    "invoice_prefix": N_("Invoice prefix"),
    "sandbox": N_("Sandbox (1 for test mode)"),
    "webhook_id": N_("Webhook ID"),
    "api_key": N_("API key"),
    "email": N_("Account email"),
    "ipn_secret": N_("IPN secret"),
    "password": N_("Account password"),
    "instructions": N_("Instructions (all languages)"),
}


def _pretty(raw: Any) -> str:
    """An event's raw JSON, indented (the template escapes it)."""
    if raw is None:
        return ""
    return json.dumps(raw, indent=2, ensure_ascii=False, sort_keys=True, default=str)


# --- payments -------------------------------------------------------------------------------
@pages.get("/admin/payments", who="staff")
def payment_list(ctx: Ctx) -> Response:
    state = ctx.arg("state")
    wanted = queries.PaymentFilter(
        user_name=ctx.arg("user") or None,
        state=state if state in STATES else None,
        method=ctx.arg("method")[:40] or None,
        needs_review=ctx.arg("review") == "1",
    )
    page = queries.list_payments(ctx.db, wanted, page_number(ctx.arg("page")))
    return ctx.render(
        "admin/payments.html", page=page, wanted=wanted, states=STATES,
        methods=payment_methods.list_methods(ctx.db), state_label=state_label,
        waiting=queries.waiting_for_staff(ctx.db),
    )


@pages.get("/admin/payments/{payment_id:int}", who="staff")
def payment_detail(ctx: Ctx) -> Response:
    payment_id = ctx.path_int("payment_id")
    row = queries.by_id(ctx.db, payment_id)
    if row is None:
        raise NotFound(N_("No payment #{id}"), id=payment_id)
    events = queries.events_of(ctx.db, payment_id)
    return ctx.render(
        "admin/payment.html", row=row, payment=row.payment, state_label=state_label,
        events=[(event, _pretty(event.raw)) for event in events],
        entries=queries.entries_of(ctx.db, payment_id),
        has_proof=ctx.db.get(PaymentProof, payment_id) is not None,
        can_decide=row.payment.gateway == "manual" and row.payment.state == "pending",
        values={k: ctx.field(k) for k in ("amount", "reason", "note")},
    )


@pages.post("/admin/payments/{payment_id:int}/approve", who="staff", refused=payment_detail)
def approve(ctx: Ctx) -> Response:
    payment_id = ctx.path_int("payment_id")
    amount = (amount_field(ctx, "amount", N_("amount received"))
              if ctx.field("amount").strip() else None)
    payment = payments.approve(ctx.db, staff(ctx), payment_id, amount)
    ctx.flash("ok", ctx.t("Payment #{id} approved: {amount} credited.", id=payment.id,
                          amount=ctx.money(payment.credited)))
    return ctx.redirect(f"/admin/payments/{payment_id}")


@pages.post("/admin/payments/{payment_id:int}/reject", who="staff", refused=payment_detail)
def reject(ctx: Ctx) -> Response:
    payment_id = ctx.path_int("payment_id")
    payments.reject(ctx.db, staff(ctx), payment_id, ctx.field("reason"))
    ctx.flash("ok", ctx.t("Payment #{id} rejected.", id=payment_id))
    return ctx.redirect(f"/admin/payments/{payment_id}")


@pages.post("/admin/payments/{payment_id:int}/reviewed", who="staff", refused=payment_detail)
def reviewed(ctx: Ctx) -> Response:
    payment_id = ctx.path_int("payment_id")
    payments.mark_reviewed(ctx.db, staff(ctx), payment_id, ctx.field("note"))
    ctx.flash("ok", ctx.t("Payment #{id} marked as reviewed.", id=payment_id))
    return ctx.redirect(f"/admin/payments/{payment_id}")


@pages.get("/admin/payments/{payment_id:int}/proof", who="staff")
def payment_proof(ctx: Ctx) -> Response:
    payment_id = ctx.path_int("payment_id")
    row = queries.by_id(ctx.db, payment_id)
    proof = ctx.db.get(PaymentProof, payment_id)
    if row is None or proof is None:
        raise NotFound(N_("This payment has no proof"))
    return proof_response(proof, row.payment)


# --- payment methods ------------------------------------------------------------------------
def _languages(ctx: Ctx) -> list[Any]:
    return [LANGUAGES[code] for code in ctx.panel_settings()["languages"] if code in LANGUAGES]


def _gateway_arg(name: str) -> str:
    if name not in GATEWAYS:
        raise payment_methods.MethodRefused(
            N_("Unknown gateway {gateway}; the gateways are: {known}"), gateway=name[:40],
            known=", ".join(sorted(GATEWAYS)))
    return name


def _setting_fields(gateway: str) -> list[tuple[str, str, bool]]:
    cls = GATEWAYS[gateway]
    return [(key, SETTING_LABELS.get(key, key), key in cls.secret_settings)
            for key in sorted(cls.known_settings)]


@pages.get("/admin/payment-methods", who="staff")
def method_list(ctx: Ctx) -> Response:
    return ctx.render("admin/payment_methods.html",
                      methods=payment_methods.list_methods(ctx.db),
                      gateways=[(name, GATEWAY_LABELS.get(name, name)) for name in GATEWAYS])


MASK_PREFIX = "set, ends in "
MASK_WORDS = {"set": N_("set"), "not set": N_("not set"), "set, unreadable": N_("set, unreadable")}


def _masked(ctx: Ctx, text: str) -> str:
    """``methods.shown_settings``' words for a credential, in the visitor's language."""
    if text.startswith(MASK_PREFIX):
        return ctx.t("set, ends in {tail}", tail=text[len(MASK_PREFIX):])
    return ctx.t(MASK_WORDS[text]) if text in MASK_WORDS else text


def _method_form(ctx: Ctx, method: PaymentMethod | None, gateway: str) -> Response:
    shown = payment_methods.shown_settings(method, panel_secret(ctx)) if method else {}
    secret_keys = GATEWAYS[gateway].secret_settings
    shown = {k: _masked(ctx, v) if k in secret_keys else v for k, v in shown.items()}
    callback = (base_url(ctx) + payment_methods.callback_path(method)
                if method is not None and GATEWAYS[gateway].automatic else "")
    values = dict(ctx.form)
    return ctx.render(
        "admin/payment_method.html", method=method, gateway=gateway,
        gateway_label=GATEWAY_LABELS.get(gateway, gateway), fields=_setting_fields(gateway),
        shown=shown, callback=callback, values=values,
    )


@pages.get("/admin/payment-methods/new", who="staff")
def new_method_form(ctx: Ctx) -> Response:
    gateway = ctx.arg("gateway") or str(ctx.form.get("gateway", "")) or "manual"
    return _method_form(ctx, None, _gateway_arg(gateway))


def _optional(ctx: Ctx, name: str, label: str) -> Decimal | None:
    return amount_field(ctx, name, label) if ctx.field(name).strip() else None


def _limits(ctx: Ctx) -> payment_methods.Limits:
    return payment_methods.Limits(
        min_amount=_optional(ctx, "min_amount", N_("minimum")),
        # Empty: no maximum, no threshold (zero clears them).
        max_amount=_optional(ctx, "max_amount", N_("maximum")) or Decimal(0),
        fee_percent=_optional(ctx, "fee_percent", N_("fee")),
        bonus_percent=_optional(ctx, "bonus_percent", N_("bonus")),
        bonus_from=_optional(ctx, "bonus_from", N_("bonus threshold")) or Decimal(0),
    )


def _instructions(ctx: Ctx) -> dict[str, str]:
    return {lang.code: ctx.field(f"instructions_{lang.code}") for lang in _languages(ctx)
            if f"instructions_{lang.code}" in ctx.form}


@pages.post("/admin/payment-methods", who="staff", refused=new_method_form)
def add_method(ctx: Ctx) -> Response:
    gateway = _gateway_arg(ctx.field("gateway").strip())
    settings = {key: ctx.field(f"setting_{key}") for key, _label, _secret in
                _setting_fields(gateway) if ctx.field(f"setting_{key}").strip()}
    method = payment_methods.add_method(
        ctx.db, staff(ctx), name=ctx.field("name"), gateway=gateway,
        panel_secret=panel_secret(ctx), title=ctx.field("title"), limits=_limits(ctx),
        settings=settings, instructions=_instructions(ctx),
    )
    ctx.flash("ok", ctx.t("Payment method {name} added.", name=method.name))
    return ctx.redirect(f"/admin/payment-methods/{method.id}")


def _method(ctx: Ctx) -> PaymentMethod:
    method = ctx.db.get(PaymentMethod, ctx.path_int("method_id"))
    if method is None:
        raise NotFound(N_("No such payment method"))
    return method


@pages.get("/admin/payment-methods/{method_id:int}", who="staff")
def method_detail(ctx: Ctx) -> Response:
    method = _method(ctx)
    return _method_form(ctx, method, method.gateway)


@pages.post("/admin/payment-methods/{method_id:int}", who="staff", refused=method_detail)
def edit_method(ctx: Ctx) -> Response:
    method = _method(ctx)
    settings: dict[str, str] = {}
    for key, _label, secret in _setting_fields(method.gateway):
        name = f"setting_{key}"
        if name not in ctx.form or (secret and not ctx.field(name).strip()):
            continue  # not on the form, or a credential left blank: kept as it is
        settings[key] = ctx.field(name)
    payment_methods.edit_method(
        ctx.db, staff(ctx), method, panel_secret=panel_secret(ctx), title=ctx.field("title"),
        limits=_limits(ctx), settings=settings, instructions=_instructions(ctx),
    )
    ctx.flash("ok", ctx.t("Payment method {name} saved.", name=method.name))
    return ctx.redirect(f"/admin/payment-methods/{method.id}")


@pages.post("/admin/payment-methods/{method_id:int}/enable", who="staff")
def enable_method(ctx: Ctx) -> Response:
    method = _method(ctx)
    payment_methods.set_enabled(ctx.db, staff(ctx), method, True)
    ctx.flash("ok", ctx.t("Payment method {name} enabled.", name=method.name))
    return ctx.back(f"/admin/payment-methods/{method.id}")


@pages.post("/admin/payment-methods/{method_id:int}/disable", who="staff")
def disable_method(ctx: Ctx) -> Response:
    method = _method(ctx)
    payment_methods.set_enabled(ctx.db, staff(ctx), method, False)
    ctx.flash("ok", ctx.t("Payment method {name} disabled.", name=method.name))
    return ctx.back(f"/admin/payment-methods/{method.id}")
