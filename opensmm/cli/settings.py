"""``opensmm settings``: the panel settings staff change without a restart."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy.orm import Session

from opensmm.audit.actor import Actor
from opensmm.branding import assets
from opensmm.cli.output import emit_json, fail, in_read, in_write, refusals_to_exit
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


def _picture(name: str, path: Path | None, remove: bool) -> None:
    if remove == (path is not None):
        fail("give a FILE, or --remove", 2)
    data = b""
    if path is not None:
        try:
            with path.open("rb") as handle:
                data = handle.read(assets.KINDS[name].max_bytes + 1)
        except OSError as exc:
            fail(f"cannot read {path}: {exc.strerror}", 2)

    def work(session: Session) -> str:
        if remove:
            assets.remove(session, name, Actor.cli())
            return ""
        return assets.store(session, name, data, Actor.cli()).etag

    etag = in_write(work)
    typer.echo(f"{name} = {etag}" if etag else f"{name} removed")


FileArgument = Annotated[
    Path | None, typer.Argument(help="The picture to upload.", dir_okay=False)
]
RemoveOption = Annotated[bool, typer.Option("--remove", help="Go back to no picture.")]


@settings_app.command("logo")
def settings_logo(path: FileArgument = None, remove: RemoveOption = False) -> None:
    """Upload the logo shown in every page's header (PNG, JPEG or WebP, at most 512 KB)."""
    _picture("logo", path, remove)


@settings_app.command("favicon")
def settings_favicon(path: FileArgument = None, remove: RemoveOption = False) -> None:
    """Upload the browsers' tab icon (ICO or PNG, at most 100 KB)."""
    _picture("favicon", path, remove)
