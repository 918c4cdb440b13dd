"""Staff → Currencies: the display currencies customers may choose, their rates typed in
here (or fetched by the worker from the ``currency_rates_url`` setting)."""

from __future__ import annotations

from decimal import Decimal

from starlette.responses import Response

from opensmm.admin.users import staff
from opensmm.currencies import service as currencies
from opensmm.web.context import Ctx
from opensmm.web.framework import Pages

pages = Pages()


@pages.get("/admin/currencies", who="staff")
def currencies_page(ctx: Ctx) -> Response:
    return ctx.render(
        "admin/currencies.html", rows=currencies.listing(ctx.db),
        url=ctx.panel_settings()["currency_rates_url"],
        typed={"code": ctx.field("code")[:3], "rate": ctx.field("rate")[:40]},
    )


@pages.post("/admin/currencies", who="staff", refused=currencies_page)
def add_currency(ctx: Ctx) -> Response:
    rate = currencies.add(ctx.db, ctx.field("code"), ctx.field("rate"), staff(ctx),
                          base=ctx.web.settings.currency)
    return _rate_saved(ctx, rate)


@pages.post("/admin/currencies/set", who="staff", refused=currencies_page)
def set_rate(ctx: Ctx) -> Response:
    rate = currencies.set_rate(ctx.db, ctx.field("code"), ctx.field("rate"), staff(ctx))
    return _rate_saved(ctx, rate)


def _rate_saved(ctx: Ctx, rate: Decimal) -> Response:
    """Back to the list, saying the rate stored (the code was checked when it was)."""
    code = currencies.parse_code(ctx.field("code"))
    ctx.flash("ok", ctx.t("{name} set to {value}.", name=code, value=f"{rate:f}"))
    return ctx.redirect("/admin/currencies")


@pages.post("/admin/currencies/remove", who="staff", refused=currencies_page)
def remove_currency(ctx: Ctx) -> Response:
    code = currencies.remove(ctx.db, ctx.field("code"), staff(ctx))
    ctx.flash("ok", ctx.t("{name} removed.", name=code))
    return ctx.redirect("/admin/currencies")
