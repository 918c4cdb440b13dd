"""Printing for the CLI: plain lines for people, one JSON object with ``--json``."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any, NoReturn, TypeVar

import orjson
import typer
from sqlalchemy.orm import Session

from opensmm.db import Database, get_database
from opensmm.errors import DomainError
from opensmm.settings import get_settings

T = TypeVar("T")


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError


def emit_json(data: Any) -> None:
    typer.echo(orjson.dumps(data, default=_default).decode())


def fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


_ready: set[str] = set()


def database() -> Database:
    """The settings' database, once it is known to be migrated (one clear line otherwise,
    not a traceback, and no empty SQLite file left behind)."""
    url = get_settings().database_url
    if url not in _ready:
        from opensmm.db.migrate import not_migrated

        problem = not_migrated(url)
        if problem is not None:
            fail(
                f"{problem} (OPENSMM_DATABASE_URL={redacted(url)}): run `opensmm db upgrade` "
                "first, or point OPENSMM_DATABASE_URL at the panel's database"
            )
        _ready.add(url)
    return get_database()


def redacted(url: str) -> str:
    """A database URL fit to print: without its password."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:  # an unparsable URL: show nothing of it
        return "(unreadable URL)"


@contextmanager
def refusals_to_exit() -> Iterator[None]:
    """A domain refusal becomes a clear message and exit code 1, not a traceback."""
    try:
        yield
    except DomainError as exc:
        fail(exc.message)


def in_write(work: Callable[[Session], T]) -> T:
    with refusals_to_exit(), database().write() as session:
        return work(session)


def in_read(work: Callable[[Session], T]) -> T:
    with refusals_to_exit(), database().read() as session:
        return work(session)


def echo_lines(lines: list[str]) -> None:
    sys.stdout.write("".join(f"{line}\n" for line in lines))
