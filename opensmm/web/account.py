"""Customer pages around the account: dashboard, services, funds, API keys and API docs."""

from __future__ import annotations

from itertools import groupby

from starlette.responses import Response

from opensmm.accounts import service as accounts
from opensmm.catalog.service import list_services, search_services
from opensmm.errors import DomainError
from opensmm.i18n import N_
from opensmm.orders import queries
from opensmm.orders import statuses as st
from opensmm.web.apidocs import api_examples
from opensmm.web.context import Ctx
from opensmm.web.framework import Pages
from opensmm.web.orders import service_payload

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
    )


@pages.get("/services", who="anyone")
def services(ctx: Ctx) -> Response:
    search = ctx.arg("q")
    rows = [service_payload(s, c, ctx.user, ctx.money) for s, c in search_services(ctx.db, search)]
    grouped = [(name, list(items)) for name, items in groupby(rows, lambda r: r["category"])]
    return ctx.render("services.html", grouped=grouped, search=search, count=len(rows))


# --- API keys ------------------------------------------------------------------------------
def _keys_page(ctx: Ctx, new_key: str | None) -> Response:
    return ctx.render("keys.html", keys=accounts.list_keys(ctx.db, ctx.me.id), new_key=new_key)


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
