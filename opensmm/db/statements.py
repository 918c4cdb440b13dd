"""Statements built from the models with Core, compiled once per dialect, run without the ORM.

Building, caching and running a statement through SQLAlchemy costs far more Python than the
database's own work on the API's hottest paths (docs/performance.md). A ``Statement`` is
built from the models (so that it follows them), compiled by SQLAlchemy once per dialect,
and then run on a plain DBAPI connection: either in autocommit for a read that stands alone
(``rows``, through ``Database.read_rows``), or inside a unit of work, on the session's own
connection and in its transaction (``run``, ``run_count``), so that it commits or rolls
back with everything else the unit did.

Values cross in both directions through the columns' own types (their bind and result
processors): Money stays whole units of 0.00001 in the database and a ``Decimal`` here,
exactly as through the ORM.
"""

from __future__ import annotations

import threading
from collections import namedtuple
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ReturnsRows

from opensmm.db.engine import Database

Processor = Callable[[Any], Any]


@dataclass(frozen=True)
class Compiled:
    sql: str
    positional: tuple[str, ...] | None  # bind names in order for "?" styles; None: by name
    bind_processors: tuple[tuple[str, Processor], ...]  # only the binds that have one
    processors: tuple[Processor | None, ...]  # per result column
    row_type: Any  # a named tuple of the result columns (None: no rows come back)

    def arguments(self, params: Mapping[str, Any]) -> tuple[Any, ...] | Mapping[str, Any]:
        """``params`` as the driver takes them: converted by their types, in its style."""
        if self.bind_processors:
            converted = dict(params)
            for name, process in self.bind_processors:
                value = converted[name]
                if value is not None:
                    converted[name] = process(value)
            params = converted
        if self.positional is not None:
            return tuple(params[name] for name in self.positional)
        return params

    def fetch(self, db: Database, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """The rows of a standalone read, as the driver gives them (Money as whole units)."""
        return db.read_rows(self.sql, self.arguments(params))

    def convert(self, rows: list[tuple[Any, ...]]) -> list[Any]:
        """Driver rows as named tuples of the columns' Python values."""
        processors = self.processors
        return [
            self.row_type(*[p(v) if p is not None and v is not None else v
                            for p, v in zip(processors, row, strict=True)])
            for row in rows
        ]


class Statement:
    """A Core statement (select, insert, update) compiled once per dialect."""

    def __init__(self, build: Callable[[], ReturnsRows]) -> None:
        self._build_for: Callable[[str], ReturnsRows] = lambda _dialect_name: build()
        self._compiled: dict[str, Compiled] = {}
        self._lock = threading.Lock()

    @classmethod
    def by_dialect(cls, build_for: Callable[[str], ReturnsRows]) -> Statement:
        """A statement whose construction depends on the dialect's name (an upsert, ...)."""
        statement = cls(lambda: build_for(""))
        statement._build_for = build_for
        return statement

    def rows(self, db: Database, **params: Any) -> list[Any]:
        """A standalone read (autocommit, no unit of work): its rows as named tuples."""
        compiled = self.compiled(db)
        return compiled.convert(compiled.fetch(db, params))

    def compiled(self, db: Database) -> Compiled:
        return self.for_dialect(db.read_engine.dialect)

    def for_dialect(self, dialect: Dialect) -> Compiled:
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            with self._lock:
                compiled = self._compiled.get(dialect.name) or self._compile(dialect)
        return compiled

    def run(self, session: Session, **params: Any) -> list[Any]:
        """Run in ``session``'s unit of work; the rows it returns (SELECT or RETURNING)."""
        compiled, cursor = self._execute(session, params)
        try:
            return compiled.convert(cursor.fetchall())
        finally:
            cursor.close()

    def run_count(self, session: Session, **params: Any) -> int:
        """Run in ``session``'s unit of work; how many rows it changed."""
        _, cursor = self._execute(session, params)
        try:
            return int(cursor.rowcount)
        finally:
            cursor.close()

    def _execute(self, session: Session, params: Mapping[str, Any]) -> tuple[Compiled, Any]:
        dialect, dbapi_connection = unit_connection(session)
        compiled = self.for_dialect(dialect)
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(compiled.sql, compiled.arguments(params))
        except BaseException:
            cursor.close()
            raise
        return compiled, cursor

    def _compile(self, dialect: Dialect) -> Compiled:
        statement = self._build_for(dialect.name)
        compiled = statement.compile(dialect=dialect)
        _refuse_values_left_to_sqlalchemy(compiled)
        bind_processors = tuple(
            (name, process)
            for name, bind in compiled.binds.items()
            if (process := bind.type.dialect_impl(dialect).bind_processor(dialect)) is not None
        )
        columns = statement.exported_columns  # what a SELECT or a RETURNING gives; may be none
        processors = tuple(
            column.type.dialect_impl(dialect).result_processor(dialect, None)
            for column in columns
        )
        positional = compiled.positiontup if dialect.positional else None
        result = Compiled(
            sql=compiled.string,
            positional=tuple(positional) if positional is not None else None,
            bind_processors=bind_processors,
            processors=processors,
            row_type=namedtuple("Row", list(columns.keys())) if len(columns) else None,
        )
        self._compiled[dialect.name] = result
        return result


def _refuse_values_left_to_sqlalchemy(compiled: SQLCompiler) -> None:
    """Every value must be a parameter given at each call: nothing here would supply one."""
    for name, bind in compiled.binds.items():
        # A value fixed when the statement was built (a clock, a constant) would be reused
        # forever.
        if bind.value is not None or bind.callable is not None:
            raise RuntimeError(f"statement parameter {name!r} has a built-in value")
    # A column default that SQLAlchemy computes at each execution (a clock, ...): the
    # statement must name every such column itself.
    if compiled.insert_prefetch or compiled.update_prefetch:
        raise RuntimeError("statement leaves a column to its Python-side default")


def unit_connection(session: Session) -> tuple[Dialect, Any]:
    """The dialect and DBAPI connection of ``session``'s transaction, ready for a statement.

    What the ORM still holds for this unit goes first, as an ORM query would flush it (and,
    like one, not inside ``no_autoflush``): a row added a moment ago must exist before a
    statement locks or counts it. The connection is the session's own, in its transaction
    (begun now if it was not: on SQLite with BEGIN IMMEDIATE for a write unit), so that
    what runs on it commits or rolls back with the unit.
    """
    if session.autoflush:
        session.flush()
    connection = session.connection()
    return connection.dialect, connection.connection.dbapi_connection
