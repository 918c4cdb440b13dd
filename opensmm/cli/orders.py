"""``opensmm order``, ``opensmm refill`` and ``opensmm ledger``."""

from __future__ import annotations

from typing import Annotated, TypeVar

import typer
from sqlalchemy import select
from sqlalchemy.orm import Session

from opensmm.accounts.models import User
from opensmm.affiliates import service as affiliates
from opensmm.audit.actor import Actor
from opensmm.cli.accounts import JsonFlag
from opensmm.cli.output import emit_json, fail, in_read, in_write
from opensmm.fulfillment import held as held_orders
from opensmm.ledger import service as ledger
from opensmm.money import format_money
from opensmm.orders import queries as order_queries
from opensmm.orders import service as orders
from opensmm.orders import staff as orders_staff
from opensmm.orders import statuses
from opensmm.orders.models import Order
from opensmm.refills import statuses as refill_statuses
from opensmm.refills.models import Refill
from opensmm.subscriptions import service as subscriptions
from opensmm.subscriptions.models import SubscriptionPost

order_app = typer.Typer(help="Orders.", no_args_is_help=True)
refill_app = typer.Typer(help="Refills.", no_args_is_help=True)
ledger_app = typer.Typer(help="The money ledger.", no_args_is_help=True)
subscription_app = typer.Typer(help="Subscriptions and their posts.", no_args_is_help=True)

MAX_LISTED = 1000


def order_json(order: Order, user: str) -> dict[str, object]:
    return {
        "id": order.id,
        "user": user,
        "service": order.service_id,
        "link": order.link,
        "quantity": order.quantity,
        "units": order.units,
        "charge": format_money(order.charge),
        "refunded": format_money(order.refunded),
        "status": order.status,
        "start_count": order.start_count,
        "remains": order.remains,
        "runs": order.runs,
        "interval": order.interval,
        "created_at": order.created_at.isoformat(),
        "fulfillment": order.fulfillment,
        "send_state": order.send_state,
        "upstream_id": order.upstream_id,
        "held_reason": order.held_reason,
        "alert": order.alert,
        "cancel_state": order.cancel_state,
    }


Listed = TypeVar("Listed", Order, Refill)


def _latest_with_owner(
    model: type[Listed], user: str | None, status: str | None
) -> list[tuple[Listed, str]]:
    """The newest ``model`` rows (at most MAX_LISTED) with their owner's name, for the
    ``list`` commands: of one user and one status when given."""

    def work(session: Session) -> list[tuple[Listed, str]]:
        query = select(model, User.name).join(User, User.id == model.user_id)
        if user is not None:
            query = query.where(User.name == user)
        if status is not None:
            query = query.where(model.status == status)
        rows = session.execute(query.order_by(model.id.desc()).limit(MAX_LISTED)).all()
        return [(row, name) for row, name in rows]

    return in_read(work)


@order_app.command("list")
def order_list(
    user: Annotated[str | None, typer.Option("--user")] = None,
    status: Annotated[str | None, typer.Option("--status")] = None,
    held: Annotated[
        bool,
        typer.Option(
            "--held", help="What needs a person: held orders and refills, alerts (providers too)."
        ),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """The latest orders (at most 1000), newest first."""
    if held:
        _list_held(as_json)
        return
    wanted = None
    if status is not None:
        known = (*statuses.ORDER_STATUSES, *statuses.SUBSCRIPTION_STATUSES)
        wanted = statuses.canonical(status, known)
        if wanted is None:
            fail(f"Unknown status {status!r}")

    rows = _latest_with_owner(Order, user, wanted)
    if as_json:
        emit_json({"orders": [order_json(order, name) for order, name in rows]})
        return
    for order, name in rows:
        typer.echo(
            f"{order.id:>7}  {name:<16} service {order.service_id:<5} {order.status:<11} "
            f"charge {format_money(order.charge)} remains {order.remains}  {order.link}"
        )


def _list_held(as_json: bool) -> None:
    items, alerts = in_read(held_orders.needing_attention)
    if as_json:
        emit_json(
            {
                "items": [vars(item) for item in items],
                "providers": [vars(alert) for alert in alerts],
            }
        )
        return
    for alert in alerts:
        typer.echo(f"PROVIDER {alert.name}: {alert.alert} (since {alert.since})")
    if not items and not alerts:
        typer.echo("Nothing is held and there are no alerts")
    for item in items:
        label = "HELD" if item.held else "ALERT"
        where = f" at {item.provider}" if item.provider else ""
        upstream = f" upstream {item.upstream_id}" if item.upstream_id else ""
        name = f"{item.kind} {item.id}"
        if item.kind == "refill":
            name += f" (order {item.order_id})"
        typer.echo(
            f"{label} {name} of {item.user}{where}{upstream}, {item.status}: {item.reason}"
        )


@order_app.command("history")
def order_history(
    order_id: Annotated[int, typer.Argument(metavar="ID")], as_json: JsonFlag = False
) -> None:
    """An order's history, oldest first: when, who, what (in English)."""
    from opensmm.i18n.translate import Translator
    from opensmm.settings import get_settings

    english = Translator("en", get_settings().currency)  # amounts by the money rule

    def work(session: Session) -> list[dict[str, object]]:
        if session.get(Order, order_id) is None:
            fail(f"Order {order_id} not found")
        return [
            {
                "at": event.created_at.isoformat(),
                "actor_kind": event.actor_kind,
                "actor": event.actor,
                "by": event.by.render(english),
                "code": event.code,
                "params": event.params,
                "text": event.description.render(english),
            }
            for event in order_queries.events(session, order_id)
        ]

    rows = in_read(work)
    if as_json:
        emit_json({"order": order_id, "events": rows})
        return
    for row in rows:
        typer.echo(f"{row['at']}  {row['by']}: {row['text']}")


@order_app.command("resolve")
def order_resolve(
    order_id: Annotated[int, typer.Argument(metavar="ID")],
    upstream_id: Annotated[
        int | None,
        typer.Option("--upstream-id", help="It exists at the provider under this order ID."),
    ] = None,
    resend: Annotated[
        bool, typer.Option("--resend", help="It does not exist there: send it again.")
    ] = False,
) -> None:
    """Settle a held order, after checking at the provider (it is never resent by itself)."""
    order = in_write(
        lambda s: orders_staff.resolve_order(
            s, Actor.cli(), order_id, upstream_id=upstream_id, resend=resend
        )
    )
    state = (
        f"sent as upstream order {order.upstream_id}"
        if order.upstream_id
        else order.send_state or "not sent"
    )
    typer.echo(f"Order {order.id}: {order.status}, {state}")


@order_app.command("set")
def order_set(
    order_id: Annotated[int, typer.Argument(metavar="ID")],
    status: Annotated[str | None, typer.Option("--status")] = None,
    start_count: Annotated[int | None, typer.Option("--start-count")] = None,
    remains: Annotated[int | None, typer.Option("--remains")] = None,
) -> None:
    """Staff update of a manual order. Partial and Canceled refund, exactly once."""
    if status is None and start_count is None and remains is None:
        fail("Nothing to set: give --status, --start-count or --remains")
    update = orders.OrderUpdate(status=status, start_count=start_count, remains=remains)
    order = in_write(lambda s: orders_staff.update_order(s, Actor.cli(), order_id, update))
    typer.echo(
        f"Order {order.id}: {order.status}, remains {order.remains}, "
        f"refunded {format_money(order.refunded)}"
    )


@refill_app.command("set")
def refill_set(
    refill_id: Annotated[int, typer.Argument(metavar="ID")],
    status: Annotated[str, typer.Option("--status")],
) -> None:
    """Set a refill's status (Pending, In progress, Completed, Rejected, Error)."""
    refill = in_write(
        lambda s: orders_staff.set_refill_status(s, Actor.cli(), refill_id, status)
    )
    typer.echo(f"Refill {refill.id}: {refill.status}")


@refill_app.command("resolve")
def refill_resolve(
    refill_id: Annotated[int, typer.Argument(metavar="ID")],
    upstream_id: Annotated[
        int | None,
        typer.Option("--upstream-id", help="It exists at the provider under this refill ID."),
    ] = None,
    resend: Annotated[
        bool, typer.Option("--resend", help="It does not exist there: send it again.")
    ] = False,
) -> None:
    """Settle a held refill, after checking at the provider."""
    refill = in_write(
        lambda s: orders_staff.resolve_refill(
            s, Actor.cli(), refill_id, upstream_id=upstream_id, resend=resend
        )
    )
    typer.echo(f"Refill {refill.id}: {refill.status}, {refill.send_state}")


@ledger_app.command("check")
def ledger_check() -> None:
    """Verify that every balance (and affiliate balance) equals the sum of its entries
    (exit 1 if not)."""
    mismatches = in_read(ledger.check)
    affiliate_mismatches = in_read(affiliates.check)
    if not mismatches and not affiliate_mismatches:
        typer.echo("Ledger OK: every balance equals the sum of its entries")
        return
    for bad in mismatches:
        typer.echo(
            f"MISMATCH user {bad.name} (id {bad.user_id}): balance {bad.balance}, "
            f"entries add up to {bad.entries_total}"
        )
    for user_id, balance, total in affiliate_mismatches:
        typer.echo(
            f"MISMATCH affiliate balance of user id {user_id}: balance {balance}, "
            f"entries add up to {total}"
        )
    raise typer.Exit(1)


@refill_app.command("list")
def refill_list(
    user: Annotated[str | None, typer.Option("--user")] = None,
    status: Annotated[str | None, typer.Option("--status")] = None,
    as_json: JsonFlag = False,
) -> None:
    """The latest refills (at most 1000), newest first."""
    wanted = None
    if status is not None:
        wanted = statuses.canonical(status, refill_statuses.REFILL_STATUSES)
        if wanted is None:
            known = ", ".join(refill_statuses.REFILL_STATUSES)
            fail(f"Unknown refill status {status!r}; one of: {known}")

    rows = _latest_with_owner(Refill, user, wanted)
    if as_json:
        emit_json({"refills": [
            {"id": r.id, "order": r.order_id, "user": name, "status": r.status,
             "send_state": r.send_state, "upstream_id": r.upstream_id,
             "created_at": r.created_at.isoformat(), "alert": r.alert}
            for r, name in rows
        ]})
        return
    if not rows:
        typer.echo("No refills")
    for refill, name in rows:
        alert = f"  ALERT: {refill.alert}" if refill.alert else ""
        typer.echo(
            f"{refill.id:>7}  {name:<16} order {refill.order_id:<7} {refill.status:<11} "
            f"{refill.created_at:%Y-%m-%d %H:%M}{alert}"
        )


@subscription_app.command("post")
def subscription_post(
    order_id: Annotated[int, typer.Argument(help="The subscription's order ID.")],
    link: Annotated[str, typer.Argument(help="The new post's link.")],
) -> None:
    """Record a new post of a subscription's account: its order is made and charged, or
    the subscription is Paused until the customer can pay for it."""
    number = in_write(lambda s: orders_staff.record_post(s, Actor.cli(), order_id, link))

    def show(session: Session) -> str:
        order = session.get(Order, order_id)
        assert order is not None  # just recorded
        child = session.scalar(
            select(SubscriptionPost.order_id).where(
                SubscriptionPost.subscription_id == order_id, SubscriptionPost.number == number
            )
        )
        made = f"order {child}" if child is not None else "unpaid (not enough funds)"
        return f"Subscription {order_id}: post {number} recorded, {made}; {order.status}"

    typer.echo(in_read(show))


@subscription_app.command("posts")
def subscription_posts(
    order_id: Annotated[int, typer.Argument(help="The subscription's order ID.")],
    as_json: JsonFlag = False,
) -> None:
    """A subscription's posts and the orders made for them."""

    def work(session: Session) -> list[dict[str, object]]:
        subscriptions.lock_subscription(session, order_id)
        return [
            {"number": post.number, "link": post.link, "old": post.old, "source": post.source,
             "order": child.id if child else None,
             "status": child.status if child else None,
             "charge": format_money(child.charge) if child else None}
            for post, child in subscriptions.posts_of(session, [order_id])[order_id]
        ]

    rows = in_read(work)
    if as_json:
        emit_json({"subscription": order_id, "posts": rows})
        return
    for row in rows:
        made = f"order {row['order']} {row['status']} {row['charge']}" if row["order"] else "unpaid"
        typer.echo(f"{row['number']}  {row['link']}  {made}")
