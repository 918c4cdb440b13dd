"""``opensmm demo``: a panel that works out of the box, its orders fulfilled by the simulator."""

from __future__ import annotations

import os
import secrets
import shlex
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated

import typer
from sqlalchemy import select
from sqlalchemy.orm import Session

from opensmm.accounts import service as accounts
from opensmm.accounts.models import User
from opensmm.audit.actor import Actor
from opensmm.catalog import service as catalog
from opensmm.catalog.models import Service
from opensmm.db import get_database
from opensmm.ledger import service as ledger
from opensmm.payments import keys
from opensmm.payments import methods as payment_methods
from opensmm.settings import get_settings

DEMO_DATABASE = "sqlite:///opensmm-demo.db"
STAFF, CUSTOMER = "demo-admin", "demo"
DEMO_LINK = "https://instagram.com/p/opensmm-demo"

# (category, name, type, rate, min, max, refill, cancel, dripfeed)
CATALOG: tuple[tuple[str, str, str, str, int, int, bool, bool, bool], ...] = (
    ("Instagram", "Instagram Followers", "Default", "0.90", 10, 100_000, True, True, False),
    ("Instagram", "Instagram Likes", "Default", "0.35", 10, 50_000, False, True, True),
    ("Instagram", "Instagram Custom Comments", "Custom Comments", "4.00", 1, 500, False, False,
     False),
    ("TikTok", "TikTok Views", "Default", "0.05", 100, 1_000_000, False, True, True),
    ("TikTok", "TikTok Followers", "Default", "1.20", 10, 50_000, True, True, False),
    ("YouTube", "YouTube Views", "Default", "1.50", 100, 500_000, True, False, False),
    ("YouTube", "YouTube Starter Package", "Package", "9.99", 1, 1, False, False, False),
)


@dataclass(frozen=True)
class Seeded:
    created: bool
    staff_password: str | None
    key: str
    service_id: int


def seed(session: Session, panel_secret: str) -> Seeded:
    """The demo's accounts and catalog, once; a new API key each time (keys show once)."""
    customer = session.scalar(select(User).where(User.name == CUSTOMER))
    password = None
    created = customer is None
    if customer is None:
        password = secrets.token_urlsafe(12)
        accounts.create_user(session, STAFF, password=password, is_admin=True)
        customer = accounts.create_user(session, CUSTOMER)
        ledger.add_funds(session, customer.id, Decimal(100), memo="Demo credit", actor="demo")
        # Add funds works out of the box: a manual method staff approve (Staff → Payments).
        payment_methods.add_method(
            session, Actor.cli(), name="bank", gateway="manual", title="Bank transfer",
            panel_secret=panel_secret, limits=payment_methods.Limits(max_amount=Decimal(1000)),
            instructions={
                "en": "Demo: type any reference; staff approve it under Staff → Payments.",
                "ar": "تجربة: اكتب أي مرجع؛ يوافق عليه الموظفون في الإدارة ← الدفعات.",
            },
        )
        for category, name, kind, rate, low, high, refill, cancel, dripfeed in CATALOG:
            catalog.add_service(
                session,
                name=name,
                category=category,
                rate=Decimal(rate),
                min_quantity=low,
                max_quantity=high,
                type=kind,
                refill=refill,
                cancel=cancel,
                dripfeed=dripfeed,
                description="Fulfilled by the simulator: it moves by itself.",
                fulfillment=catalog.SIMULATOR,
            )
    first = session.scalar(
        select(Service.id)
        .where(Service.fulfillment == catalog.SIMULATOR, Service.type == "Default")
        .order_by(Service.id)
    )
    key = accounts.create_key(session, customer, label="demo").key
    return Seeded(created, password, key, int(first or 1))


def _default(name: str, value: str) -> None:
    """A demo-friendly setting, unless the environment already chose one."""
    os.environ.setdefault(name, value)


def demo(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    database_url: Annotated[
        str, typer.Option("--database-url", help="Where the demo keeps its data.")
    ] = DEMO_DATABASE,
    speed: Annotated[
        float, typer.Option("--speed", help="Seconds per simulator stage (Pending, running).")
    ] = 3.0,
    serve: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Serve it (default), or only seed it.")
    ] = True,
) -> None:
    """Seed a demo panel (staff, a customer with funds and a key, simulator services), serve
    it with the worker, and print a curl line whose order completes by itself."""
    from opensmm.db.migrate import upgrade

    os.environ["OPENSMM_DATABASE_URL"] = database_url
    os.environ["OPENSMM_SIMULATOR_SECONDS"] = str(speed)
    _default("OPENSMM_SIMULATOR_PARTIAL_PERCENT", "0")
    _default("OPENSMM_WORKER_POLL_SECONDS", str(max(speed, 0.5)))
    _default("OPENSMM_WORKER_IDLE_SECONDS", "0.5")
    get_settings.cache_clear()
    upgrade(database_url)
    database = get_database(database_url)
    secret = keys.panel_secret(database)
    with database.write() as session:
        seeded = seed(session, secret)
    base = f"http://{host}:{port}"
    api = f"{base}/api/v2"
    add = (
        f"curl -s {api} -d key={seeded.key} -d action=add -d service={seeded.service_id} "
        f"-d link={shlex.quote(DEMO_LINK)} -d quantity=100"
    )
    lines = [
        f"opensmm demo: {base}/  (data in {database_url})",
        "To see this panel from the opensmm command (orders, users, services), in another "
        "shell:",
        f"  export OPENSMM_DATABASE_URL={shlex.quote(_absolute(database_url))}",
        f"API URL: {api}",
        f"API key: {seeded.key}  (customer {CUSTOMER!r}, balance 100.00 at first)",
    ]
    if seeded.staff_password:
        lines.append(f"Staff login: {STAFF} / {seeded.staff_password}")
    lines += [
        "Place an order (it goes Pending -> In progress -> Completed by itself):",
        f"  {add}",
        "Then follow it (use the order id it printed):",
        f"  curl -s {api} -d key={seeded.key} -d action=status -d order=ORDER_ID",
    ]
    for line in lines:
        typer.echo(line)
    if not serve:
        return
    from opensmm.cli.main import _run_uvicorn
    from opensmm.cli.worker import finish, start_in_process, stop_on_signals

    background = start_in_process()
    stop_on_signals(background)
    try:
        _run_uvicorn(host, port, 1, on_exit=background.request_stop)
    finally:
        finish(background)


def _absolute(url: str) -> str:
    """The URL with a relative SQLite path made absolute: it works from any folder."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    path = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or path in ("", ":memory:") or path.startswith(
        "file:"
    ) or os.path.isabs(path):
        return url
    return parsed.set(database=os.path.abspath(path)).render_as_string(hide_password=False)
