"""The customer's Affiliates page, the transfer to the panel balance, and referral links.

``/r/{code}`` counts a visit (once per browser and link) and keeps the code in a cookie for
``REF_DAYS``; the sign-up page (``opensmm.web.auth``) records the referrer it names.
"""

from __future__ import annotations

from starlette.responses import Response

from opensmm.affiliates import service as affiliates
from opensmm.i18n import formatting
from opensmm.web.context import Ctx
from opensmm.web.framework import Pages

pages = Pages()

REF_COOKIE = "opensmm_ref"
REF_DAYS = 30


@pages.get("/r/{code}", who="anyone", unit="write")
def referral_link(ctx: Ctx) -> Response:
    if ctx.user is not None:  # an account already: nobody to refer (nor a visit to count)
        return ctx.redirect("/dashboard")
    code = affiliates.clean_code(ctx.request.path_params.get("code", ""))
    if code is not None and affiliates.link_exists(ctx.db, code):
        if ctx.request.cookies.get(REF_COOKIE) != code:
            affiliates.count_visit(ctx.db, code)
        ctx.set_cookie(REF_COOKIE, code, REF_DAYS * 24 * 3600)
    return ctx.redirect("/signup")


def referral_code(ctx: Ctx) -> str | None:
    """The referral link this browser came through, if any (for the sign-up)."""
    return affiliates.clean_code(ctx.request.cookies.get(REF_COOKIE))


def _page(ctx: Ctx, amount: str = "") -> Response:
    stats = affiliates.stats(ctx.db, ctx.me.id)
    base = str(ctx.request.base_url).rstrip("/")
    return ctx.render(
        "affiliates.html",
        stats=stats,
        link=f"{base}/r/{stats.code}" if stats.code else "",
        percent=formatting.decimal(stats.percent, ctx.lang),
        referrals=affiliates.referrals(ctx.db, ctx.me.id),
        entries=affiliates.entries(ctx.db, ctx.me.id),
        transfer_key=affiliates.new_key(),
        amount=amount,
        minimum=affiliates.minimum_transfer(ctx.db),
    )


# A write unit: the first visit makes the customer's referral code.
@pages.get("/affiliates", unit="write")
def affiliates_page(ctx: Ctx) -> Response:
    affiliates.ensure(ctx.db, ctx.me.id)
    return _page(ctx)


def _refused(ctx: Ctx) -> Response:
    return _page(ctx, ctx.field("amount")[:40])


@pages.post("/affiliates/transfer", refused=_refused)
def transfer(ctx: Ctx) -> Response:
    moved = affiliates.transfer(ctx.db, ctx.me.id, ctx.field("amount"),
                                ctx.field("transfer_key"))
    if moved.replayed:
        ctx.flash("ok", ctx.t("This form was already submitted: nothing was moved again."))
    else:
        ctx.flash("ok", ctx.t("{amount} moved to your balance.", amount=ctx.money(moved.amount)))
    return ctx.redirect("/affiliates")
