"""Staff pages for the ledger (every balance movement) and the audit log (every staff action)."""

from __future__ import annotations

from starlette.responses import Response

from opensmm.accounts import service as accounts
from opensmm.audit import actions as audit_actions
from opensmm.audit import service as audit
from opensmm.db.pagination import page_number
from opensmm.errors import DomainError
from opensmm.ledger import queries as ledger_queries
from opensmm.ledger import service as ledger
from opensmm.web.context import Ctx
from opensmm.web.framework import Pages

pages = Pages()


@pages.get("/admin/ledger", who="staff")
def ledger_page(ctx: Ctx) -> Response:
    name = ctx.arg("user")
    user_id = None
    if name:
        try:
            user_id = accounts.get_user(ctx.db, name).id
        except DomainError:
            user_id = -1  # nobody: an empty list rather than everyone's
    kind = ctx.arg("kind")
    page = ledger_queries.history(
        ctx.db, user_id=user_id, kind=kind or None, page=page_number(ctx.arg("page"))
    )
    return ctx.render(
        "admin/ledger.html",
        page=page,
        user_name=name,
        kind=kind,
        kinds=ledger_queries.KINDS,
        mismatches=ledger.check(ctx.db) if ctx.arg("check") == "1" else None,
    )


@pages.get("/admin/audit", who="staff")
def audit_page(ctx: Ctx) -> Response:
    page = audit.entries(
        ctx.db,
        actor=ctx.arg("actor") or None,
        action=ctx.arg("action") or None,
        door=ctx.arg("door") or None,
        page=page_number(ctx.arg("page")),
    )
    return ctx.render(
        "admin/audit.html", page=page, actor=ctx.arg("actor"), action=ctx.arg("action"),
        door=ctx.arg("door"), describe=audit_actions.describe,
        door_labels=audit_actions.DOOR_LABELS,
    )
