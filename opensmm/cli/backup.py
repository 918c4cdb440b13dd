"""``opensmm backup PATH`` and ``opensmm restore PATH`` (see docs/reliability.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from opensmm.backup import service
from opensmm.cli.output import fail, refusals_to_exit
from opensmm.settings import get_settings


def backup(
    path: Annotated[Path, typer.Argument(help="Where to write the backup file.")],
    force: Annotated[bool, typer.Option("--force", help="Replace an existing file.")] = False,
) -> None:
    """Write a consistent copy of the live database to PATH (the server may keep running)."""
    with refusals_to_exit():
        result = service.backup(get_settings().database_url, path, overwrite=force)
    summary = f": {result.counts}" if result.counts else ""
    typer.echo(f"Backup written to {result.path} ({result.method}, {result.size} bytes){summary}")


def restore(
    path: Annotated[Path, typer.Argument(help="A file written by `opensmm backup`.")],
    force: Annotated[
        bool, typer.Option("--force", help="Replace a database that already holds accounts.")
    ] = False,
) -> None:
    """Replace the database with the backup at PATH, migrate it, and check the ledger."""
    with refusals_to_exit():
        result = service.restore(get_settings().database_url, path, force=force)
    typer.echo(f"Restored {path}: {result.counts}")
    if result.mismatches:
        for line in result.mismatches:
            typer.echo(f"MISMATCH {line}")
        fail("The restored ledger does not add up (see the lines above)")
    typer.echo("Ledger OK: every balance equals the sum of its entries")
