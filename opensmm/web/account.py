"""Customer pages around the account: dashboard, services, funds, API keys and API docs."""

from __future__ import annotations

from decimal import Decimal
from itertools import groupby

from starlette.responses import Response

from opensmm.accounts import service as accounts
from opensmm.accounts.models import ApiKey
from opensmm.catalog import platforms, storefront
from opensmm.catalog.service import list_services, search_services
from opensmm.currencies import service as currencies
from opensmm.errors import DomainError
from opensmm.i18n import N_
from opensmm.news import service as news
from opensmm.orders import queries
from opensmm.orders import statuses as st
from opensmm.tickets import service as tickets
from opensmm.web import sessions
from opensmm.web.apidocs import api_examples
from opensmm.web.context import CURRENCY_COOKIE, Ctx
from opensmm.web.framework import Pages
from opensmm.web.orders import service_payload, with_average_times
from opensmm.webhooks import service as webhooks

pages = Pages()
YEAR_SECONDS = 365 * 24 * 3600


@pages.get("/dashboard")
def dashboard(ctx: Ctx) -> Response:
    recent = queries.list_orders(ctx.db, queries.OrderFilter(user_id=ctx.me.id), 1, per_page=5)
    by_status = queries.count_by_status(ctx.db, ctx.me.id)
    return ctx.render(
        "dashboard.html",
        recent=recent.items,
        total_orders=recent.total,
        spent=queries.total_spent(ctx.db, ctx.me.id),
        by_status=by_status,
        # Waiting to start and being delivered are two counts: Pending is not in progress.
        pending=by_status.get(st.PENDING, 0),
        running=sum(by_status.get(status, 0) for status in (st.IN_PROGRESS, st.PROCESSING)),
        news=news.latest(ctx.db, ctx.lang, str(ctx.panel_settings()["default_language"])),
        unread_tickets=tickets.unread_for_customer(ctx.db, ctx.me.id),
    )


@pages.get("/services", who="anyone")
def services(ctx: Ctx) -> Response:
    search = ctx.arg("q")
    icons = storefront.icons(ctx.db)
    found = search_services(ctx.db, search)
    # ?platform=instagram (the landing page's links): that platform's categories ("none":
    # those without one); an unknown platform shows everything.
    wanted = ctx.arg("platform")
    if wanted == platforms.NONE or wanted in platforms.PLATFORMS:
        found = [(s, c) for s, c in found if (icons.get(c) or platforms.NONE) == wanted]
    rows = with_average_times(ctx, [service_payload(s, c, ctx.user, ctx.money, ctx.t)
                                   for s, c in found])
    for row in rows:
        row["rate_approx"] = ctx.approx(Decimal(row["rate"]))
    grouped = [(name, icons.get(name), list(items))
               for name, items in groupby(rows, lambda r: r["category"])]
    offered = [row.code for row in currencies.listing(ctx.db)]
    return ctx.render("services.html", grouped=grouped, search=search, count=len(rows),
                      offered=offered, counting=ctx.t.plural_forms("{n} service", "{n} services"))


@pages.post("/currency", who="anyone", refused=services)
def choose_currency(ctx: Ctx) -> Response:
    """The display currency: a customer's remembered on their account, a visitor's in a
    cookie (a year)."""
    base = ctx.web.settings.currency
    if ctx.user is not None:
        currencies.choose(ctx.db, ctx.user, ctx.field("currency"), base=base)
    else:
        code = currencies.chosen_code(ctx.db, ctx.field("currency"), base=base)
        ctx.set_cookie(CURRENCY_COOKIE, code, YEAR_SECONDS if code else 0)
    return ctx.back("/services")


# --- API keys ------------------------------------------------------------------------------
# A new key and a webhook secret are shown once, after a redirect (POST-redirect-GET: a refresh
# creates nothing): kept encrypted in the log-in session until the keys page shows them.
def _keys_page(ctx: Ctx, shown: dict[str, str]) -> Response:
    return ctx.render(
        "keys.html", keys=accounts.list_keys(ctx.db, ctx.me.id), new_key=shown.get("api_key"),
        webhook_secret=shown.get("webhook_secret"),
        deliveries=webhooks.recent_deliveries(ctx.db, ctx.me.id),
    )


@pages.get("/account/keys", unit="write")
def keys(ctx: Ctx) -> Response:
    return _keys_page(ctx, sessions.take_reveal(ctx.db, ctx.session_token))


def _keys_refused(ctx: Ctx) -> Response:
    """A refused form on the keys page: shown again (in a read unit), revealing nothing."""
    return _keys_page(ctx, {})


def _reveal_on_keys_page(ctx: Ctx, name: str, secret: str) -> Response:
    if ctx.session_token:
        sessions.keep_reveal(ctx.db, ctx.session_token, {name: secret})
    return ctx.redirect("/account/keys")


@pages.post("/account/keys", refused=_keys_refused)
def create_key(ctx: Ctx) -> Response:
    label = ctx.field("label").strip()
    if len(label) > 64:
        raise DomainError(N_('A label is at most 64 characters'))
    created = accounts.create_key(ctx.db, ctx.me, label)
    return _reveal_on_keys_page(ctx, "api_key", created.key)


@pages.post("/account/keys/{key_id:int}/webhook", refused=_keys_refused)
def set_key_webhook(ctx: Ctx) -> Response:
    row = ctx.db.get(ApiKey, ctx.path_int("key_id"))
    if row is None or row.user_id != ctx.me.id or row.revoked_at is not None:
        raise accounts.KeyNotFound()
    secret = webhooks.set_webhook(ctx.db, row, ctx.field("url"), ctx.web.secret.get().decode())
    if secret is None:
        ctx.flash("ok", ctx.t("The webhook of key {prefix}… is off.", prefix=row.prefix))
        return ctx.redirect("/account/keys")
    return _reveal_on_keys_page(ctx, "webhook_secret", secret)


@pages.post("/account/keys/{key_id:int}/revoke")
def revoke_key(ctx: Ctx) -> Response:
    row = accounts.revoke_key_by_id(ctx.db, ctx.path_int("key_id"), user_id=ctx.me.id)
    ctx.flash("ok", ctx.t("Key {prefix}… revoked.", prefix=row.prefix))
    return ctx.redirect("/account/keys")


@pages.get("/api", who="anyone")
def api_docs(ctx: Ctx) -> Response:
    catalog = list_services(ctx.db)
    base = str(ctx.request.base_url).rstrip("/")
    return ctx.render(
        "api.html", endpoint=f"{base}/api/v2", actions=api_examples(f"{base}/api/v2", catalog)
    )
