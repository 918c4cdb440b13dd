"""``opensmm user``, ``opensmm key`` and ``opensmm funds``."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from sqlalchemy.orm import Session

from opensmm.accounts import service as accounts
from opensmm.accounts import staff
from opensmm.audit.actor import Actor
from opensmm.cli.output import emit_json, fail, in_write
from opensmm.ledger import deposits
from opensmm.money import MoneyError, format_money, parse_money

user_app = typer.Typer(help="Customers and staff.", no_args_is_help=True)
key_app = typer.Typer(help="API keys.", no_args_is_help=True)
funds_app = typer.Typer(help="Balances.", no_args_is_help=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]


@user_app.command("create")
def user_create(
    name: str,
    email: Annotated[str | None, typer.Option()] = None,
    password: Annotated[str | None, typer.Option()] = None,
    admin: Annotated[bool, typer.Option("--admin", help="Staff account.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Create a user (a customer, or staff with --admin)."""
    user = in_write(
        lambda s: staff.create_user(
            s, Actor.cli(), name, email=email, password=password, is_admin=admin
        )
    )
    if as_json:
        emit_json({"id": user.id, "name": user.name, "admin": user.is_admin})
    else:
        typer.echo(f"Created user {user.name} (id {user.id})")


def _set_status(name: str, active: bool) -> None:
    in_write(lambda s: staff.set_status(s, Actor.cli(), name, active=active))
    typer.echo(f"{name} is now {'active' if active else 'suspended'}")


@user_app.command("suspend")
def user_suspend(name: str) -> None:
    """Refuse the user's API keys and logins until activated again."""
    _set_status(name, active=False)


@user_app.command("activate")
def user_activate(name: str) -> None:
    _set_status(name, active=True)


@user_app.command("reset-2fa")
def user_reset_2fa(name: str) -> None:
    """Turn off the two-factor log-in of a user locked out of it (lost phone, no recovery
    code): they log in with the password alone until they set it up again. Audited."""
    from opensmm.twofactor import staff as twofactor_staff

    was_on = in_write(
        lambda s: twofactor_staff.reset(s, Actor.cli(), accounts.get_user(s, name))
    )
    if was_on:
        typer.echo(f"Two-factor log-in of {name} reset: the password alone logs in")
    else:
        typer.echo(f"{name} had no two-factor log-in: nothing to reset")


@user_app.command("password")
def user_password(
    name: str,
    password_stdin: Annotated[
        bool,
        typer.Option("--password-stdin", help="Read the password from standard input "
                     "(its first line), for scripts."),
    ] = False,
) -> None:
    """Set the password of user NAME (asked twice, hidden); every session of the user ends."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("New password", hide_input=True, confirmation_prompt=True)

    def work(session: Session) -> None:
        staff.set_password(session, Actor.cli(), accounts.get_user(session, name), password)

    in_write(work)
    typer.echo(f"Password of {name} set; their sessions have ended")


@key_app.command("create")
def key_create(name: str, as_json: JsonFlag = False) -> None:
    """Create an API key for user NAME; it is shown only this once."""

    def work(session: Session) -> accounts.NewKey:
        return staff.create_key(session, Actor.cli(), accounts.get_user(session, name))

    new = in_write(work)
    if as_json:
        emit_json({"id": new.id, "user": name, "key": new.key})
    else:
        typer.echo(f"API key {new.id} for {name} (shown only once):")
        typer.echo(new.key)


@key_app.command("revoke")
def key_revoke(key: str) -> None:
    """Revoke a key: it is refused from the next request on."""
    in_write(lambda s: staff.revoke_key(s, Actor.cli(), key))
    typer.echo("Key revoked")


# A negative amount ("-5") is not an option: without this, Click refuses it as one.
@funds_app.command("add", context_settings={"ignore_unknown_options": True})
def funds_add(
    name: str,
    amount: Annotated[str, typer.Argument(help="May be negative; a balance never goes below 0.")],
    memo: Annotated[
        str, typer.Option(help="Required: shown in the customer's history.")
    ] = "",
    idempotency_key: Annotated[
        str | None,
        typer.Option(
            "--idempotency-key",
            help="Retry with the key printed by the first run: it credits only once "
            "(default: a new key, printed).",
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Add (or, negative, remove) funds; every movement is a ledger entry.

    Prints the idempotency key: running the command again with --idempotency-key KEY (after
    a time-out, say) credits nothing more."""
    try:
        value = parse_money(amount)
    except MoneyError as exc:
        fail(f"Incorrect amount {amount!r}: {exc}")
    key = deposits.new_key() if idempotency_key is None else idempotency_key

    def work(session: Session) -> tuple[str, str, bool]:
        user = accounts.get_user(session, name)
        deposit = deposits.staff_deposit(session, Actor.cli(), user, value, memo=memo, key=key)
        session.refresh(user)
        return user.name, format_money(user.balance), deposit.replayed

    user_name, balance, replayed = in_write(work)
    if as_json:
        emit_json({"user": user_name, "amount": format_money(value), "balance": balance,
                   "idempotency_key": key, "replayed": replayed})
        return
    if replayed:
        typer.echo(f"Already done with idempotency key {key}: nothing credited again")
    else:
        typer.echo(f"Idempotency key {key} (give it with --idempotency-key to retry safely)")
    typer.echo(f"{user_name}: balance {balance}")
