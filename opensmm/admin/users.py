"""Staff pages for customers: search, balance adjustments, suspension, discounts."""

from __future__ import annotations

from decimal import Decimal

from starlette.responses import Response

from opensmm.accounts import service as accounts
from opensmm.accounts import staff as staff_accounts
from opensmm.affiliates import service as affiliates
from opensmm.audit.actor import Actor
from opensmm.db.pagination import page_number
from opensmm.errors import DomainError
from opensmm.i18n import N_, Term, formatting
from opensmm.ledger import deposits
from opensmm.ledger import queries as ledger_queries
from opensmm.money import MoneyError, parse_money
from opensmm.orders import queries as order_queries
from opensmm.twofactor import service as twofactor
from opensmm.twofactor import staff as twofactor_staff
from opensmm.web import sessions
from opensmm.web.context import Ctx
from opensmm.web.framework import Pages

pages = Pages()


def amount_field(ctx: Ctx, name: str, label: str) -> Decimal:
    """A money amount from a form, or a refusal naming the field."""
    raw = ctx.field(name).strip()
    try:
        return parse_money(raw)
    except MoneyError as exc:
        raise DomainError(
            N_('Incorrect {label}: {exc}'), label=Term(label), exc=Term(str(exc))
        ) from None


def staff(ctx: Ctx) -> Actor:
    """The logged-in staff member, as the services audit them."""
    return Actor.staff(ctx.me.id, ctx.me.name, ctx.ip)


@pages.get("/admin/users", who="staff")
def user_list(ctx: Ctx) -> Response:
    search = ctx.arg("q")
    page = accounts.search_users(ctx.db, search, page_number(ctx.arg("page")))
    return ctx.render("admin/users.html", page=page, search=search)


@pages.get("/admin/users/{user_id:int}", who="staff")
def user_detail(ctx: Ctx) -> Response:
    customer = accounts.get_user_by_id(ctx.db, ctx.path_int("user_id"))
    recent = order_queries.list_orders(
        ctx.db, order_queries.OrderFilter(user_id=customer.id), 1, per_page=10
    )
    entries = ledger_queries.history(ctx.db, user_id=customer.id)
    return ctx.render(
        "admin/user.html",
        customer=customer,
        orders=recent,
        entries=entries,
        # The funds form's one-time token: submitted twice, it credits once.
        deposit_key=deposits.new_key(),
        spent=order_queries.total_spent(ctx.db, customer.id),
        two_factor=twofactor.is_enabled(ctx.db, customer.id),
        affiliate=affiliates.stats(ctx.db, customer.id),
        referrer=affiliates.referrer_name(ctx.db, customer.id),
    )


def _back_to_user(ctx: Ctx, user_id: int) -> Response:
    return ctx.redirect(f"/admin/users/{user_id}")


@pages.post("/admin/users/{user_id:int}/funds", who="staff")
def adjust_funds(ctx: Ctx) -> Response:
    customer = accounts.get_user_by_id(ctx.db, ctx.path_int("user_id"))
    amount = amount_field(ctx, "amount", N_("amount"))
    deposit = deposits.staff_deposit(
        ctx.db, staff(ctx), customer, amount, memo=ctx.field("memo"),
        key=ctx.field("idempotency_key"),
    )
    if deposit.replayed:
        ctx.flash("ok", ctx.t(
            "This form was already submitted: the balance of {name} was not changed again.",
            name=customer.name,
        ))
    else:
        ctx.flash("ok", ctx.t("Balance of {name} changed by {amount}.",
                              amount=ctx.money(amount), name=customer.name))
    return _back_to_user(ctx, customer.id)


@pages.post("/admin/users/{user_id:int}/status", who="staff")
def set_status(ctx: Ctx) -> Response:
    customer = accounts.get_user_by_id(ctx.db, ctx.path_int("user_id"))
    active = ctx.field("active") == "1"
    if customer.id == ctx.me.id and not active:
        raise DomainError(N_('You cannot suspend yourself'))
    staff_accounts.set_status(ctx.db, staff(ctx), customer.name, active=active)
    if not active:
        sessions.end_other_sessions(ctx.db, customer.id)  # logged out at once
    ctx.flash("ok", ctx.t("{name} is now active.", name=customer.name) if active
              else ctx.t("{name} is now suspended.", name=customer.name))
    return _back_to_user(ctx, customer.id)


@pages.post("/admin/users/{user_id:int}/discount", who="staff")
def set_discount(ctx: Ctx) -> Response:
    customer = accounts.get_user_by_id(ctx.db, ctx.path_int("user_id"))
    percent = amount_field(ctx, "discount", N_("discount"))
    staff_accounts.set_discount(ctx.db, staff(ctx), customer, percent)
    ctx.flash("ok", ctx.t("Discount of {name} set to {percent}%.", name=customer.name,
                          percent=formatting.decimal(percent, ctx.lang)))
    return _back_to_user(ctx, customer.id)


@pages.post("/admin/users/{user_id:int}/reset-2fa", who="staff")
def reset_two_factor(ctx: Ctx) -> Response:
    """For a user locked out of their authenticator: they log in with the password alone
    until they set it up again (audited)."""
    customer = accounts.get_user_by_id(ctx.db, ctx.path_int("user_id"))
    twofactor_staff.reset(ctx.db, staff(ctx), customer)
    ctx.flash("ok", ctx.t("The two-factor log-in of {name} is reset.", name=customer.name))
    return _back_to_user(ctx, customer.id)


@pages.post("/admin/users/{user_id:int}/reset-link", who="staff")
def send_reset_link(ctx: Ctx) -> Response:
    customer = accounts.get_user_by_id(ctx.db, ctx.path_int("user_id"))
    staff_accounts.send_reset_link(ctx.db, staff(ctx), customer, ctx.public_url())
    ctx.flash("ok", ctx.t("A password reset link was queued for {email}.",
                          email=customer.email or ""))
    return _back_to_user(ctx, customer.id)


@pages.post("/admin/users/{user_id:int}/password", who="staff")
def set_password(ctx: Ctx) -> Response:
    customer = accounts.get_user_by_id(ctx.db, ctx.path_int("user_id"))
    if ctx.field("password") != ctx.field("password2"):
        raise DomainError(N_('The two passwords do not match'))
    staff_accounts.set_password(ctx.db, staff(ctx), customer, ctx.field("password"))
    ctx.flash("ok", ctx.t("The password of {name} was set; their sessions have ended.",
                          name=customer.name))
    if customer.id == ctx.me.id:
        return ctx.redirect("/login")  # their own session ended with the others
    return _back_to_user(ctx, customer.id)


@pages.post("/admin/users/{user_id:int}/affiliate", who="staff")
def set_affiliate_percent(ctx: Ctx) -> Response:
    customer = accounts.get_user_by_id(ctx.db, ctx.path_int("user_id"))
    percent = affiliates.set_percent(ctx.db, staff(ctx), customer, ctx.field("percent")[:40])
    if percent is None:
        ctx.flash("ok", ctx.t("{name} earns the panel's affiliate percent again.",
                              name=customer.name))
    else:
        ctx.flash("ok", ctx.t("Affiliate percent of {name} set to {percent}%.",
                              name=customer.name,
                              percent=formatting.decimal(percent, ctx.lang)))
    return _back_to_user(ctx, customer.id)
