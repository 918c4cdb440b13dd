"""``opensmm key allow-ips``: where an API key may be used from."""

from __future__ import annotations

from typing import Annotated

import typer
from sqlalchemy.orm import Session

from opensmm.accounts import staff
from opensmm.audit.actor import Actor
from opensmm.cli.accounts import key_app
from opensmm.cli.output import in_write


@key_app.command("allow-ips")
def key_allow_ips(
    key_id: Annotated[int, typer.Argument(metavar="KEY_ID", help="The key's id (not the key).")],
    addresses: Annotated[
        str,
        typer.Argument(
            help="Addresses and networks, comma-separated (203.0.113.7,198.51.100.0/24); "
            "an empty string lets the key be used from anywhere again."
        ),
    ],
) -> None:
    """Let an API key be used only from the given addresses (takes effect at once)."""

    def work(session: Session) -> str | None:
        return staff.allow_ips(session, Actor.cli(), key_id, addresses)

    stored = in_write(work)
    if stored is None:
        typer.echo(f"API key {key_id} may be used from any address")
    else:
        typer.echo(f"API key {key_id} may be used only from: {stored.replace(',', ', ')}")
