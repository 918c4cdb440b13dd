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


def database() -> Database:
    return get_database()


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
