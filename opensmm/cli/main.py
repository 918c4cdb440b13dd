"""The ``opensmm`` command: every sub-command reads ``OPENSMM_DATABASE_URL``."""

from __future__ import annotations

from typing import Annotated

import typer

from opensmm.cli.accounts import funds_app, key_app, user_app
from opensmm.cli.catalog import service_app
from opensmm.cli.orders import ledger_app, order_app, refill_app
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
) -> None:
    """Migrate the database, then serve the API v2 and the pages."""
    import uvicorn

    from opensmm.db.migrate import upgrade

    upgrade(get_settings().database_url)
    typer.echo(f"opensmm serving on http://{host}:{port}/ (API: http://{host}:{port}/api/v2)")
    uvicorn.run(
        "opensmm.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=get_settings().log_level,
        access_log=False,
        server_header=False,
        proxy_headers=False,
    )


if __name__ == "__main__":
    app()
