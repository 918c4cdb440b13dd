"""``opensmm coupon``: codes that add a fixed amount or a percent to a customer's deposit."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any

import typer
from sqlalchemy.orm import Session

from opensmm.audit.actor import Actor
from opensmm.cli.output import emit_json, fail, in_read, in_write
from opensmm.coupons import service as coupons
from opensmm.coupons.models import PERCENT, Coupon
from opensmm.money import MoneyError, format_money, parse_money

coupon_app = typer.Typer(help="Coupons for deposits.", no_args_is_help=True)


def _money(raw: str | None, option: str) -> Decimal | None:
    if raw is None:
        return None
    try:
        return parse_money(raw)
    except MoneyError as exc:
        fail(f"{option}: {exc}")


def _day(raw: str | None) -> date | None:
    if raw is None:
        return None
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        fail("--expires: a date like 2026-12-31")


@coupon_app.command("add")
def coupon_add(
    code: str,
    amount: Annotated[str | None, typer.Option(help="A fixed amount added to the deposit.")
                      ] = None,
    percent: Annotated[str | None, typer.Option(help="A percent of the deposit, added.")
                       ] = None,
    max_uses: Annotated[int | None, typer.Option(help="Uses in all (default: no limit).")
                        ] = None,
    per_customer: Annotated[int | None, typer.Option(
        help="Uses per customer (default: no limit).")] = None,
    expires: Annotated[str | None, typer.Option(
        help="The last day it can be used, YYYY-MM-DD (UTC).")] = None,
    min_deposit: Annotated[str | None, typer.Option(
        help="The smallest deposit it applies to.")] = None,
) -> None:
    """Create a coupon: --amount A or --percent P."""
    fixed, share = _money(amount, "--amount"), _money(percent, "--percent")
    day, minimum = _day(expires), _money(min_deposit, "--min-deposit")

    def work(session: Session) -> str:
        coupon = coupons.create(session, Actor.cli(), code, amount=fixed, percent=share,
                                max_uses=max_uses, per_customer=per_customer, expires=day,
                                min_deposit=minimum)
        return coupon.code

    typer.echo(f"Coupon {in_write(work)} created")


def _shown(row: coupons.CouponRow) -> dict[str, Any]:
    coupon: Coupon = row.coupon
    percent = coupon.kind == PERCENT
    return {
        "code": coupon.code,
        "kind": coupon.kind,
        "amount": None if percent else format_money(coupon.value),
        "percent": f"{coupon.value.normalize() + 0:f}" if percent else None,
        "max_uses": coupon.max_uses,
        "per_customer": coupon.per_customer,
        "expires": (coupon.expires_at.date().isoformat() if coupon.expires_at else None),
        "expires_at": coupon.expires_at.isoformat() if coupon.expires_at else None,
        "min_deposit": (f"{coupon.min_deposit.normalize() + 0:f}"
                        if coupon.min_deposit is not None else None),
        "enabled": coupon.enabled,
        "expired": row.expired,
        "reserved": row.reserved,
        "used": row.used,
    }


@coupon_app.command("list")
def coupon_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Every coupon with its terms and how often it was used."""
    rows = in_read(lambda session: [_shown(r) for r in coupons.list_coupons(session)])
    rows.sort(key=lambda r: r["code"])
    if as_json:
        emit_json({"coupons": rows})
        return
    if not rows:
        typer.echo("No coupons")
    for r in rows:
        value = f"{r['percent']}%" if r["percent"] else r["amount"]
        state = "enabled" if r["enabled"] and not r["expired"] else (
            "expired" if r["enabled"] else "disabled")
        typer.echo(
            f"{r['code']}  {value}  used {r['used']} (+{r['reserved']} reserved)"
            f" of {r['max_uses'] or 'any'}, per customer {r['per_customer'] or 'any'},"
            f" min deposit {r['min_deposit'] or '-'}, expires {r['expires'] or 'never'}, {state}"
        )


@coupon_app.command("disable")
def coupon_disable(code: str) -> None:
    """Refuse the code from now on (payments that reserved it keep their value)."""
    disabled = in_write(lambda session: coupons.disable(session, Actor.cli(), code).code)
    typer.echo(f"Coupon {disabled} disabled")
