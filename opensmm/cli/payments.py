"""``opensmm payment-method`` and ``opensmm payment``: the gateways staff take money through,
and the payments customers make (approve or reject manual ones here or in the back office)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

import typer
from sqlalchemy.orm import Session

from opensmm.audit.actor import Actor
from opensmm.cli.output import database, emit_json, fail, in_read, in_write
from opensmm.money import MoneyError, format_money, parse_money
from opensmm.payments import methods, queries, service
from opensmm.payments.gateways import GATEWAYS
from opensmm.payments.keys import panel_secret
from opensmm.payments.methods import Limits
from opensmm.payments.models import STATES, PaymentMethod

method_app = typer.Typer(help="Payment methods: the gateways customers pay through.",
                         no_args_is_help=True)
payment_app = typer.Typer(help="Customers' payments.", no_args_is_help=True)

GATEWAY_NAMES = ", ".join(sorted(GATEWAYS))
JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]


def _money(value: str | None, option: str) -> Decimal | None:
    if value is None:
        return None
    try:
        return parse_money(value)
    except MoneyError:
        fail(f"{option}: not an amount: {value[:40]!r}")


def _pairs(values: list[str], option: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            fail(f"{option} takes KEY=VALUE, not {item[:40]!r}")
        pairs[key.strip()] = value
    return pairs


def _method_json(method: PaymentMethod, secret: str, base_url: str) -> dict[str, Any]:
    return {
        "name": method.name,
        "gateway": method.gateway,
        "title": method.title,
        "enabled": method.enabled,
        "min": method.min_amount,
        "max": method.max_amount,
        "fee_percent": method.fee_percent,
        "bonus_percent": method.bonus_percent,
        "bonus_from": method.bonus_from,
        "settings": methods.shown_settings(method, secret),
        "instructions": dict(method.instructions or {}),
        "callback_url": (base_url.rstrip("/") + methods.callback_path(method))
        if base_url else methods.callback_path(method),
    }


BaseUrl = Annotated[str, typer.Option(
    "--base-url", envvar="OPENSMM_PUBLIC_URL",
    help="The panel's public address, to print the full callback URL.")]


@method_app.command("add")
def method_add(
    name: str,
    gateway: Annotated[str, typer.Option("--gateway", help=f"One of: {GATEWAY_NAMES}.")],
    title: Annotated[str, typer.Option(help="What customers see (default: the name).")] = "",
    min_amount: Annotated[str | None, typer.Option("--min", help="Minimum deposit.")] = None,
    max_amount: Annotated[str | None, typer.Option("--max", help="Maximum deposit.")] = None,
    fee: Annotated[str | None, typer.Option("--fee", help="Fee in % of the amount paid.")] = None,
    bonus: Annotated[str | None, typer.Option("--bonus", help="Bonus in %.")] = None,
    bonus_from: Annotated[str | None, typer.Option(
        "--bonus-from", help="The bonus applies from this deposit up.")] = None,
    settings: Annotated[list[str] | None, typer.Option(
        "--set", help="A gateway setting KEY=VALUE (credentials, api_base=URL, sandbox=1).")
    ] = None,
    instructions: Annotated[list[str] | None, typer.Option(
        "--instructions", help="LANG=TEXT shown to customers (repeat per language).")] = None,
    base_url: BaseUrl = "",
    as_json: JsonFlag = False,
) -> None:
    """Add a payment method; credentials are encrypted, and shown back only masked."""
    limits = Limits(_money(min_amount, "--min"), _money(max_amount, "--max"),
                    _money(fee, "--fee"), _money(bonus, "--bonus"),
                    _money(bonus_from, "--bonus-from"))
    secret = panel_secret(database())

    def work(session: Session) -> dict[str, Any]:
        method = methods.add_method(
            session, Actor.cli(), name=name, gateway=gateway, panel_secret=secret, title=title,
            limits=limits, settings=_pairs(settings or [], "--set"),
            instructions=_pairs(instructions or [], "--instructions"),
        )
        return _method_json(method, secret, base_url)

    shown = in_write(work)
    if as_json:
        emit_json(shown)
        return
    typer.echo(f"payment method {shown['name']} added ({shown['gateway']})")
    if shown["gateway"] != "manual":
        typer.echo(f"callback URL for the gateway's dashboard: {shown['callback_url']}")


@method_app.command("edit")
def method_edit(
    name: str,
    title: Annotated[str | None, typer.Option(help="What customers see.")] = None,
    min_amount: Annotated[str | None, typer.Option("--min")] = None,
    max_amount: Annotated[str | None, typer.Option("--max", help="0: no maximum.")] = None,
    fee: Annotated[str | None, typer.Option("--fee")] = None,
    bonus: Annotated[str | None, typer.Option("--bonus")] = None,
    bonus_from: Annotated[str | None, typer.Option("--bonus-from", help="0: every deposit.")
                          ] = None,
    settings: Annotated[list[str] | None, typer.Option(
        "--set", help="KEY=VALUE to change a setting; KEY= to remove it.")] = None,
    base_url: BaseUrl = "",
    as_json: JsonFlag = False,
) -> None:
    """Change a payment method (what is not given stays as it is)."""
    limits = Limits(_money(min_amount, "--min"), _money(max_amount, "--max"),
                    _money(fee, "--fee"), _money(bonus, "--bonus"),
                    _money(bonus_from, "--bonus-from"))
    secret = panel_secret(database())

    def work(session: Session) -> dict[str, Any]:
        method = methods.find_method(session, name)
        methods.edit_method(session, Actor.cli(), method, panel_secret=secret, title=title,
                            limits=limits, settings=_pairs(settings or [], "--set"))
        return _method_json(method, secret, base_url)

    shown = in_write(work)
    if as_json:
        emit_json(shown)
    else:
        typer.echo(f"payment method {shown['name']} changed")


@method_app.command("list")
def method_list(base_url: BaseUrl = "", as_json: JsonFlag = False) -> None:
    """Every payment method, with its settings (credentials masked)."""
    secret = panel_secret(database())
    shown = in_read(lambda s: [_method_json(m, secret, base_url) for m in methods.list_methods(s)])
    if as_json:
        emit_json({"methods": shown})
        return
    if not shown:
        typer.echo("no payment methods yet: opensmm payment-method add NAME --gateway G ...")
    for item in shown:
        state = "enabled" if item["enabled"] else "disabled"
        limits = f"min {format_money(item['min'])}"
        if item["max"] is not None:
            limits += f", max {format_money(item['max'])}"
        typer.echo(f"{item['name']}  {item['gateway']}  {state}  {limits}  "
                   f"fee {format_money(item['fee_percent'])}%  "
                   f"bonus {format_money(item['bonus_percent'])}%")
        for key, value in item["settings"].items():
            typer.echo(f"    {key}: {value}")
        if item["gateway"] != "manual":
            typer.echo(f"    callback: {item['callback_url']}")


def _set_enabled(name: str, enabled: bool) -> None:
    def work(session: Session) -> None:
        methods.set_enabled(session, Actor.cli(), methods.find_method(session, name), enabled)

    in_write(work)
    typer.echo(f"payment method {name} {'enabled' if enabled else 'disabled'}")


@method_app.command("disable")
def method_disable(name: str) -> None:
    """Take no new payments through it (callbacks for its payments still count)."""
    _set_enabled(name, False)


@method_app.command("enable")
def method_enable(name: str) -> None:
    _set_enabled(name, True)


# --- payments -------------------------------------------------------------------------------


def _payment_json(row: queries.PaymentRow) -> dict[str, Any]:
    p = row.payment
    return {
        "id": p.id, "user": row.user_name, "method": row.method_name, "gateway": p.gateway,
        "amount": p.amount, "currency": p.currency, "state": p.state, "credited": p.credited,
        "fee": p.fee, "bonus": p.bonus, "reversed": p.reversed, "shortfall": p.shortfall,
        "reference": p.reference, "needs_review": p.needs_review, "note": p.note,
        "created_at": p.created_at.isoformat(),
    }


@payment_app.command("list")
def payment_list(
    user: Annotated[str | None, typer.Option(help="Only this customer's.")] = None,
    status: Annotated[str | None, typer.Option(help=f"One of: {', '.join(STATES)}.")] = None,
    method: Annotated[str | None, typer.Option(help="Only this method's.")] = None,
    review: Annotated[bool, typer.Option("--review", help="Only those flagged for a person.")
                      ] = False,
    page: Annotated[int, typer.Option(min=1)] = 1,
    as_json: JsonFlag = False,
) -> None:
    """Payments, newest first: id, user, method, amount, state and the gateway's id."""
    if status is not None and status not in STATES:
        fail(f"--status is one of: {', '.join(STATES)}")
    where = queries.PaymentFilter(user_name=user, state=status, method=method,
                                  needs_review=review)
    rows = in_read(
        lambda s: [_payment_json(r) for r in queries.list_payments(s, where, page).items]
    )
    if as_json:
        emit_json({"payments": rows})
        return
    if not rows:
        typer.echo("no payments")
    for r in rows:
        flag = "  needs review" if r["needs_review"] else ""
        typer.echo(f"#{r['id']}  {r['user']}  {r['method']}  {format_money(r['amount'])} "
                   f"{r['currency']}  {r['state']}  credited {format_money(r['credited'])}  "
                   f"{r['reference'] or '-'}{flag}")


@payment_app.command("approve")
def payment_approve(
    payment_id: int,
    amount: Annotated[str | None, typer.Option(
        help="What really arrived, if not the amount asked.")] = None,
) -> None:
    """Credit a manual payment found in the panel's account."""
    received = _money(amount, "--amount")
    in_write(lambda s: service.approve(s, Actor.cli(), payment_id, received))
    typer.echo(f"payment #{payment_id} approved")


@payment_app.command("reject")
def payment_reject(
    payment_id: int,
    reason: Annotated[str, typer.Option(help="Shown to the customer.")],
) -> None:
    """Refuse a manual payment that did not arrive."""
    in_write(lambda s: service.reject(s, Actor.cli(), payment_id, reason))
    typer.echo(f"payment #{payment_id} rejected")
