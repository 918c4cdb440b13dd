"""The ``opensmm`` command: every sub-command reads ``OPENSMM_DATABASE_URL``."""

from __future__ import annotations

from typing import Annotated

import typer

from opensmm.cli import security as _security  # noqa: F401 - adds `opensmm key allow-ips`
from opensmm.cli.accounts import funds_app, key_app, user_app
from opensmm.cli.backup import backup, restore
from opensmm.cli.catalog import service_app
from opensmm.cli.demo import demo
from opensmm.cli.orders import ledger_app, order_app, refill_app
from opensmm.cli.providers import provider_app
from opensmm.cli.settings import settings_app
from opensmm.cli.worker import worker
from opensmm.settings import get_settings

app = typer.Typer(
    help="opensmm: an open-source SMM panel server.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
db_app = typer.Typer(help="The database schema.", no_args_is_help=True)

app.add_typer(db_app, name="db")
app.add_typer(user_app, name="user")
app.add_typer(key_app, name="key")
app.add_typer(funds_app, name="funds")
app.add_typer(service_app, name="service")
app.add_typer(order_app, name="order")
app.add_typer(refill_app, name="refill")
app.add_typer(ledger_app, name="ledger")
app.add_typer(provider_app, name="provider")
app.add_typer(settings_app, name="settings")
app.command("worker")(worker)
app.command("demo")(demo)
app.command("backup")(backup)
app.command("restore")(restore)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every migration to the database."""
    from opensmm.db.migrate import upgrade

    upgrade(get_settings().database_url)
    typer.echo("Database is up to date")


@app.command()
def serve(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    workers: Annotated[int, typer.Option(help="Server processes (2 for two cores).")] = 1,
    worker: Annotated[
        bool,
        typer.Option(
            "--worker/--no-worker",
            help="Run the fulfillment worker in this process (one per serve, whatever "
            "--workers says); turn it off when `opensmm worker` runs elsewhere.",
        ),
    ] = True,
) -> None:
    """Migrate the database, then serve the API v2 and the pages (and run the worker)."""
    import os
    import tempfile

    from opensmm.db.migrate import upgrade

    upgrade(get_settings().database_url)
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Worker processes add up their metrics through files here (prometheus_client).
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="opensmm-metrics-")
    typer.echo(f"opensmm serving on http://{host}:{port}/ (API: http://{host}:{port}/api/v2)")
    # Started here, in the parent, never in the app factory: uvicorn's --workers processes
    # each build an app, and one worker per serve is what we want.
    from opensmm.cli.worker import start_in_process

    background = start_in_process() if worker else None
    try:
        _run_uvicorn(host, port, workers)
    finally:
        if background is not None:
            background.stop()


def _run_uvicorn(host: str, port: int, workers: int) -> None:
    import uvicorn

    from opensmm.observability.logs import logging_config
    from opensmm.security.read_timeout import PROTOCOL as READ_TIMEOUT_PROTOCOL

    uvicorn.run(
        "opensmm.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=get_settings().log_level,
        log_config=logging_config(get_settings()),
        access_log=False,
        server_header=False,
        proxy_headers=False,
        # uvicorn's own protocol plus a deadline for each request head (slow headers).
        http=READ_TIMEOUT_PROTOCOL,
    )


if __name__ == "__main__":
    app()
