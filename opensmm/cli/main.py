"""The ``opensmm`` command: every sub-command reads ``OPENSMM_DATABASE_URL``."""

from __future__ import annotations

from collections.abc import Callable
from types import FrameType
from typing import Annotated, Any

import typer

from opensmm.cli import security as _security  # noqa: F401 - adds `opensmm key allow-ips`
from opensmm.cli.accounts import funds_app, key_app, user_app
from opensmm.cli.admintokens import admin_token_app
from opensmm.cli.backup import backup, restore
from opensmm.cli.catalog import service_app
from opensmm.cli.coupons import coupon_app
from opensmm.cli.currencies import currency_app
from opensmm.cli.demo import demo
from opensmm.cli.orders import ledger_app, order_app, refill_app, subscription_app
from opensmm.cli.payments import method_app, payment_app
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
# Seconds a server process of `serve --workers N` has to answer its supervisor's ping.
WORKER_HEALTHCHECK_SECONDS = 30
db_app = typer.Typer(help="The database schema.", no_args_is_help=True)

app.add_typer(db_app, name="db")
app.add_typer(user_app, name="user")
app.add_typer(key_app, name="key")
app.add_typer(funds_app, name="funds")
app.add_typer(service_app, name="service")
app.add_typer(order_app, name="order")
app.add_typer(refill_app, name="refill")
app.add_typer(subscription_app, name="subscription")
app.add_typer(ledger_app, name="ledger")
app.add_typer(provider_app, name="provider")
app.add_typer(settings_app, name="settings")
app.add_typer(method_app, name="payment-method")
app.add_typer(payment_app, name="payment")
app.add_typer(coupon_app, name="coupon")
app.add_typer(currency_app, name="currency")
app.add_typer(admin_token_app, name="admin-token")
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
    from opensmm.cli.worker import finish, start_in_process, stop_on_signals

    background = start_in_process() if worker else None
    # Ours before uvicorn's: uvicorn re-raises the signal once it has shut down, and it must
    # land here (stop the worker) rather than kill the process (exit 143) before `finally`.
    stop_on_signals(background)
    try:
        _run_uvicorn(host, port, workers, on_exit=background.request_stop if background else None)
    finally:
        if background is not None:
            finish(background)


def _run_uvicorn(
    host: str, port: int, workers: int, on_exit: Callable[[], None] | None = None
) -> None:
    import uvicorn

    from opensmm.observability.logs import logging_config
    from opensmm.transport import ServeProtocol

    settings = get_settings()
    keepalive = max(1, settings.keepalive_seconds)
    options: dict[str, Any] = dict(
        host=host,
        port=port,
        workers=workers,
        log_level=settings.log_level,
        log_config=logging_config(settings),
        access_log=False,
        server_header=False,
        proxy_headers=False,
        # uvicorn's protocol reading the body of `Upgrade: h2c` offers (docs/transport.md),
        # with a deadline for each request head (slow headers, docs/security.md).
        http=ServeProtocol,
        timeout_keep_alive=keepalive,
        headers=[("Keep-Alive", f"timeout={keepalive}")],
    )
    if workers > 1:
        # The supervisor handles the signals itself and returns once its processes ended.
        # It kills a process that does not answer its ping in time: uvicorn's 5 s default is
        # less than a loaded small VPS takes to start one (imports), which then dies forever.
        options["timeout_worker_healthcheck"] = WORKER_HEALTHCHECK_SECONDS
        uvicorn.run("opensmm.app:create_app", factory=True, **options)
        return

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            # The worker stops taking work at once, while the server drains its connections.
            if on_exit is not None:
                on_exit()
            super().handle_exit(sig, frame)

    config = uvicorn.Config("opensmm.app:create_app", factory=True, **options)
    config.load_app()
    server = Server(config)
    server.run()
    if not server.started:
        raise typer.Exit(3)  # uvicorn.run's STARTUP_FAILURE: the port taken, the app broken


if __name__ == "__main__":
    app()
