"""Staff pages for coupons: the list with their usage, a new coupon, disabling one, and
the payments that used one."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from starlette.responses import Response

from opensmm.admin.users import amount_field, staff
from opensmm.coupons import service as coupons
from opensmm.errors import DomainError
from opensmm.i18n import N_
from opensmm.web.context import Ctx
from opensmm.web.framework import Pages

pages = Pages()


def _count(ctx: Ctx, name: str, label: str) -> int | None:
    raw = ctx.field(name).strip()
    if not raw:
        return None
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 9):
        raise DomainError(N_("{label} must be a whole number"), label=label)
    return int(raw)


def _day(ctx: Ctx) -> date | None:
    raw = ctx.field("expires").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise DomainError(N_("Enter the expiry date as YYYY-MM-DD")) from None


def _optional_amount(ctx: Ctx, name: str, label: str) -> Decimal | None:
    return amount_field(ctx, name, label) if ctx.field(name).strip() else None


def _list(ctx: Ctx) -> Response:
    return ctx.render("admin/coupons.html", rows=coupons.list_coupons(ctx.db), values=ctx.form)


@pages.get("/admin/coupons", who="staff")
def coupon_list(ctx: Ctx) -> Response:
    return _list(ctx)


@pages.post("/admin/coupons", who="staff", refused=coupon_list)
def coupon_create(ctx: Ctx) -> Response:
    kind = ctx.field("kind")
    if kind not in ("amount", "percent"):
        raise DomainError(N_("A coupon gives either a fixed amount or a percent"))
    value = amount_field(ctx, "value", N_("value"))
    coupon = coupons.create(
        ctx.db, staff(ctx), ctx.field("code"),
        amount=value if kind == "amount" else None,
        percent=value if kind == "percent" else None,
        max_uses=_count(ctx, "max_uses", N_("The usage limit")),
        per_customer=_count(ctx, "per_customer", N_("The per-customer limit")),
        expires=_day(ctx),
        min_deposit=_optional_amount(ctx, "min_deposit", N_("minimum deposit")),
    )
    ctx.flash("ok", ctx.t("Coupon {code} created.", code=coupon.code))
    return ctx.redirect("/admin/coupons")


@pages.get("/admin/coupons/{coupon_id:int}", who="staff")
def coupon_detail(ctx: Ctx) -> Response:
    row = coupons.get(ctx.db, ctx.path_int("coupon_id"))
    return ctx.render("admin/coupon.html", row=row, uses=coupons.uses(ctx.db, row.coupon.id))


@pages.post("/admin/coupons/{coupon_id:int}/disable", who="staff")
def coupon_disable(ctx: Ctx) -> Response:
    row = coupons.get(ctx.db, ctx.path_int("coupon_id"))
    coupons.disable(ctx.db, staff(ctx), row.coupon.code)
    ctx.flash("ok", ctx.t("Coupon {code} disabled.", code=row.coupon.code))
    return ctx.back("/admin/coupons")
