"""``opensmm currency``: the display currencies and their exchange rates."""

from __future__ import annotations

from typing import Annotated

import typer
from sqlalchemy.orm import Session

from opensmm.audit.actor import Actor
from opensmm.cli.accounts import JsonFlag
from opensmm.cli.output import database, emit_json, fail, in_read, in_write
from opensmm.currencies import fetch
from opensmm.currencies import service as currencies
from opensmm.settings import get_settings

currency_app = typer.Typer(
    help="Display currencies: prices and balances shown converted (the ledger is not).",
    no_args_is_help=True,
)

Code = Annotated[str, typer.Argument(help="ISO 4217 code, like EUR.")]
Rate = Annotated[str, typer.Argument(help="How many of it one unit of the panel's currency "
                                          "buys, like 0.92.")]


@currency_app.command("list")
def currency_list(as_json: JsonFlag = False) -> None:
    """Every display currency, its rate, where the rate came from and when."""

    def work(session: Session) -> list[dict[str, str]]:
        return [{"code": row.code, "rate": row.rate, "source": row.source,
                 "updated_at": row.updated_at.isoformat()} for row in currencies.listing(session)]

    rows = in_read(work)
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        typer.echo(f"{row['code']} {row['rate']} ({row['source']}, {row['updated_at']})")


@currency_app.command("add")
def currency_add(code: Code, rate: Rate) -> None:
    """Offer a currency to customers, at this rate."""
    base = get_settings().currency
    added = in_write(lambda s: currencies.add(s, code, rate, Actor.cli(), base=base))
    typer.echo(f"{code.strip().upper()} = {added:f}")


@currency_app.command("set")
def currency_set(code: Code, rate: Rate) -> None:
    """Type in a new rate (the next fetch, if a URL is set, may replace it)."""
    stored = in_write(lambda s: currencies.set_rate(s, code, rate, Actor.cli()))
    typer.echo(f"{code.strip().upper()} = {stored:f}")


@currency_app.command("remove")
def currency_remove(code: Code) -> None:
    """Stop offering a currency (its customers see the panel's currency again)."""
    removed = in_write(lambda s: currencies.remove(s, code, Actor.cli()))
    typer.echo(f"{removed} removed")


@currency_app.command("fetch")
def currency_fetch() -> None:
    """Fetch the rates now from the currency_rates_url setting (as the worker does hourly)."""
    try:
        changed = fetch.refresh(database(), get_settings().currency, Actor.cli())
    except fetch.RatesRefused as exc:
        fail(f"rates not updated: {exc}")
    for code, (before, after) in sorted(changed.items()):
        typer.echo(f"{code} {before} -> {after}")
    typer.echo(f"{len(changed)} changed")
