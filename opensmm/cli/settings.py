"""``opensmm settings``: the panel settings staff change without a restart."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from sqlalchemy.orm import Session

from opensmm.audit.actor import Actor
from opensmm.cli.output import emit_json, in_read, in_write, refusals_to_exit
from opensmm.panel_settings import service as panel_settings
from opensmm.panel_settings.registry import SETTINGS, get_setting

settings_app = typer.Typer(help="Panel settings (stored in the database).", no_args_is_help=True)


@settings_app.command("list")
def settings_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Every setting, its value and what it means."""
    values = in_read(panel_settings.values)
    if as_json:
        emit_json({name: values[name] for name in SETTINGS})
        return
    for name, setting in SETTINGS.items():
        typer.echo(f"{name} = {setting.show(values[name])}")
        typer.echo(f"    {setting.help}")


@settings_app.command("get")
def settings_get(name: str) -> None:
    """One setting's value."""
    with refusals_to_exit():
        setting = get_setting(name)
    typer.echo(setting.show(in_read(lambda s: panel_settings.get(s, name))))


@settings_app.command("set")
def settings_set(name: str, value: str) -> None:
    """Change a setting (checked first: a bad name or value changes nothing)."""
    with refusals_to_exit():
        setting = get_setting(name)

    def work(session: Session) -> Any:
        return panel_settings.set_value(session, name, value, Actor.cli())

    stored = in_write(work)
    typer.echo(f"{name} = {setting.show(stored)}")
