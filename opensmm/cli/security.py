"""``opensmm key allow-ips`` and ``opensmm key webhook``: where an API key may be used from,
and where its status webhooks go."""

from __future__ import annotations

from typing import Annotated

import typer
from sqlalchemy.orm import Session

from opensmm.accounts import staff
from opensmm.audit.actor import Actor
from opensmm.cli.accounts import key_app
from opensmm.cli.output import database, in_write
from opensmm.payments.keys import panel_secret


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


@key_app.command("webhook")
def key_webhook(
    key_id: Annotated[int, typer.Argument(metavar="KEY_ID", help="The key's id (not the key).")],
    url: Annotated[str, typer.Argument(
        help="Where to POST status changes (http or https); an empty string turns it off.")],
) -> None:
    """Send a signed POST to URL when an order or refill of the key's owner changes status
    (spec §7). The last line is the signing secret: it is shown only once."""
    secret_of_panel = panel_secret(database())

    def work(session: Session) -> str | None:
        return staff.set_webhook(session, Actor.cli(), key_id, url, secret_of_panel)

    secret = in_write(work)
    if secret is None:
        typer.echo(f"API key {key_id}: webhook turned off")
        return
    typer.echo(f"API key {key_id}: status changes are posted to {url.strip()}")
    typer.echo("signed with X-Opensmm-Signature; the secret (shown only now):")
    typer.echo(secret)
