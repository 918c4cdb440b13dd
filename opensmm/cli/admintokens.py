"""``opensmm admin-token``: the admin API's tokens (docs/admin-api.md)."""

from __future__ import annotations

from typing import Annotated

import typer

from opensmm.adminapi import tokens
from opensmm.audit.actor import Actor
from opensmm.cli.accounts import JsonFlag
from opensmm.cli.output import emit_json, in_read, in_write

admin_token_app = typer.Typer(help="Admin API tokens.", no_args_is_help=True)


@admin_token_app.command("create")
def token_create(
    name: str,
    scope: Annotated[str, typer.Option("--scope", help="read (GET only) or write.")] = "read",
    as_json: JsonFlag = False,
) -> None:
    """Create an admin API token; it is shown only this once (the last line printed)."""
    new = in_write(lambda s: tokens.create(s, Actor.cli(), name, scope))
    if as_json:
        emit_json({"id": new.id, "name": new.name, "scope": new.scope, "token": new.token})
    else:
        typer.echo(f"Admin token {new.id} {new.name!r} ({new.scope}), shown only once:")
        typer.echo(new.token)


@admin_token_app.command("list")
def token_list(as_json: JsonFlag = False) -> None:
    """Every admin token (never the token itself: only its first characters)."""
    rows = in_read(tokens.all_tokens)
    if as_json:
        emit_json({"tokens": [
            {"id": row.id, "name": row.name, "scope": row.scope, "prefix": row.prefix,
             "created_by": row.created_by, "created_at": row.created_at.isoformat(),
             "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None}
            for row in rows
        ]})
        return
    for row in rows:
        state = f"revoked {row.revoked_at:%Y-%m-%d %H:%M}" if row.revoked_at else "active"
        typer.echo(f"{row.id:>5}  {row.name:<24} {row.scope:<5} {row.prefix}…  "
                   f"created {row.created_at:%Y-%m-%d} by {row.created_by}  {state}")


@admin_token_app.command("revoke")
def token_revoke(token_id: str) -> None:
    """Revoke a token by its id: it is refused from the next request on."""
    row = in_write(lambda s: tokens.revoke(s, Actor.cli(), token_id))
    typer.echo(f"Admin token {row.id} {row.name!r} revoked")
