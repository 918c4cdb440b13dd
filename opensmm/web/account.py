"""Customer pages around the account: dashboard, services, funds, API keys and API docs."""

from __future__ import annotations

from itertools import groupby

from starlette.responses import Response

from opensmm.accounts import service as accounts
from opensmm.accounts.models import ApiKey
from opensmm.catalog.service import list_services, search_services
from opensmm.errors import DomainError
from opensmm.i18n import N_
from opensmm.news import service as news
from opensmm.orders import queries
from opensmm.orders import statuses as st
from opensmm.tickets import service as tickets
from opensmm.web.apidocs import api_examples
from opensmm.web.context import Ctx
from opensmm.web.framework import Pages
from opensmm.web.orders import service_payload, with_average_times
from opensmm.webhooks import service as webhooks

pages = Pages()


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
        running=sum(by_status.get(status, 0) for status in st.RUNNING),
        news=news.latest(ctx.db, ctx.lang, str(ctx.panel_settings()["default_language"])),
        unread_tickets=tickets.unread_for_customer(ctx.db, ctx.me.id),
    )


@pages.get("/services", who="anyone")
def services(ctx: Ctx) -> Response:
    search = ctx.arg("q")
    found = search_services(ctx.db, search)
    rows = with_average_times(ctx, [service_payload(s, c, ctx.user, ctx.money) for s, c in found])
    grouped = [(name, list(items)) for name, items in groupby(rows, lambda r: r["category"])]
    return ctx.render("services.html", grouped=grouped, search=search, count=len(rows))


# --- API keys ------------------------------------------------------------------------------
def _keys_page(ctx: Ctx, new_key: str | None, webhook_secret: str | None = None) -> Response:
    return ctx.render(
        "keys.html", keys=accounts.list_keys(ctx.db, ctx.me.id), new_key=new_key,
        webhook_secret=webhook_secret,
        deliveries=webhooks.recent_deliveries(ctx.db, ctx.me.id),
    )


@pages.get("/account/keys")
def keys(ctx: Ctx) -> Response:
    return _keys_page(ctx, None)


@pages.post("/account/keys", refused=keys)
def create_key(ctx: Ctx) -> Response:
    label = ctx.field("label").strip()
    if len(label) > 64:
        raise DomainError(N_('A label is at most 64 characters'))
    created = accounts.create_key(ctx.db, ctx.me, label)
    # Shown on this response only: the key is not stored anywhere we could show it from again.
    return _keys_page(ctx, created.key)


@pages.post("/account/keys/{key_id:int}/webhook", refused=keys)
def set_key_webhook(ctx: Ctx) -> Response:
    row = ctx.db.get(ApiKey, ctx.path_int("key_id"))
    if row is None or row.user_id != ctx.me.id or row.revoked_at is not None:
        raise accounts.KeyNotFound()
    secret = webhooks.set_webhook(ctx.db, row, ctx.field("url"), ctx.web.secret.get().decode())
    if secret is None:
        ctx.flash("ok", ctx.t("The webhook of key {prefix}… is off.", prefix=row.prefix))
        return ctx.redirect("/account/keys")
    # Shown on this response only, like a new key.
    return _keys_page(ctx, None, webhook_secret=secret)


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
