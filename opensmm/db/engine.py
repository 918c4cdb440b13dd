"""Engines and the unit of work.

Services never commit: the front door (an API request, a CLI command, a worker job) opens
one unit of work with ``db.write()`` or ``db.read()``, and it commits or rolls back as a
whole.

SQLite needs care to be safe under concurrent writers: a write transaction starts with
``BEGIN IMMEDIATE`` so that it takes the write lock up front (a deferred transaction that
reads and then writes can fail with "database is locked" instead of waiting). Readers use
plain ``BEGIN`` and, in WAL mode, never wait for writers. PostgreSQL needs none of this:
money moves by conditional ``UPDATE`` statements, which are atomic under READ COMMITTED.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from opensmm.db import types
from opensmm.settings import get_settings

SQLITE_BUSY_TIMEOUT_MS = 30_000

log = logging.getLogger("opensmm.db")


def normalize_url(url: str) -> str:
    """Accept plain ``postgresql://`` URLs and use the psycopg 3 driver for them."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def _sqlite_engine(url: str, *, immediate: bool) -> Engine:
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event below decide how transactions start.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


class Database:
    """One database: a write engine and a read engine (the same one on PostgreSQL)."""

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = normalize_url(url)
        self.dialect = make_url(self.url).get_backend_name()
        if self.dialect == "sqlite":
            self.write_engine = _sqlite_engine(self.url, immediate=True)
            self.read_engine = _sqlite_engine(self.url, immediate=False)
        else:
            self.write_engine = create_engine(
                self.url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True
            )
            self.read_engine = self.write_engine
        self._write_sessions = sessionmaker(self.write_engine, expire_on_commit=False)
        self._read_sessions = sessionmaker(self.read_engine, expire_on_commit=False)
        # Plain DBAPI connections for ``read_rows`` (the API's hot reads), idle ones here;
        # at most as many as the pool may open (pool_size + overflow), extra ones closed:
        # enough for every worker thread, so that none is opened and closed per request.
        self._raw_idle: list[Any] = []
        self._raw_keep = 2 * pool_size
        database = make_url(self.url).database or ""
        self._raw_ok = not self.is_sqlite or (
            database not in ("", ":memory:") and not database.startswith("file:")
            and not make_url(self.url).query
        )
        # The database's clock less this host's, measured by ``sync_clock`` (see ``now``).
        self.clock_offset = timedelta(0)
        self._clock_synced = self.is_sqlite

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    def sync_clock(self) -> datetime:
        """Measure the database's clock against this host's, once per worker pass.

        Leases and due times (``lease_until``, ``next_poll_at``, ``next_attempt_at``) are
        compared by workers on several hosts: each must read them on one clock, the
        database's, or a worker whose host clock runs ahead steals live leases and one that
        runs behind keeps expired ones. On PostgreSQL this is one ``SELECT`` of
        ``clock_timestamp()``; the offset is taken at the midpoint of the round trip.
        SQLite is one file on one host: its clock is this host's, and nothing is asked.
        Returns the database's now.
        """
        if self.is_sqlite:
            return types.utcnow()
        with self.read_engine.connect() as connection:
            before = types.utcnow()
            theirs = connection.scalar(text("SELECT clock_timestamp()"))
            after = types.utcnow()
        if not isinstance(theirs, datetime):
            raise TypeError(f"clock_timestamp() answered {theirs!r}")
        self.clock_offset = theirs - (before + (after - before) / 2)
        self._clock_synced = True
        return after + self.clock_offset

    def now(self) -> datetime:
        """The database's now: this host's clock plus the offset ``sync_clock`` last
        measured (no query after the first; always this host's clock on SQLite)."""
        if not self._clock_synced:
            return self.sync_clock()
        return types.utcnow() + self.clock_offset

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A unit of work that may change data: committed on success, else rolled back."""
        with self._write_sessions() as session, session.begin():
            yield session

    def write_session(self) -> Session:
        """A session on the write engine whose transaction the caller begins, commits and
        closes itself (the API's group commit: opensmm.api.group_commit); ``write`` for
        everything else."""
        return self._write_sessions()

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only unit of work; closing it ends the transaction without a commit."""
        with self._read_sessions() as session:
            yield session

    def read_rows(self, sql: str, params: Any) -> list[tuple[Any, ...]]:
        """Run one read-only statement on a plain DBAPI connection in autocommit mode.

        For the API's hottest reads (``opensmm.api.reads``): no session, no pool checkout
        with its ping, no BEGIN/ROLLBACK round trips. One statement sees one consistent
        snapshot by itself, so none of the unit of work's guarantees are lost. ``sql`` is
        in the dialect's own parameter style. A connection that failed is dropped; a read
        that failed on a connection that had been idle (a restarted server) is retried
        once on a new one.
        """
        if not self._raw_ok:  # e.g. an in-memory SQLite database: through the engine
            with self.read_engine.connect() as connection:
                return [tuple(row) for row in connection.exec_driver_sql(sql, params)]
        reused = bool(self._raw_idle)
        conn = self._raw_idle.pop() if reused else self._raw_connect()
        try:
            rows: list[tuple[Any, ...]] = conn.execute(sql, params).fetchall()
        except Exception:
            lost = bool(getattr(conn, "broken", False))  # psycopg: the server went away
            _close_quietly(conn)
            if not (reused and lost):
                raise
            conn = self._raw_connect()
            try:
                rows = conn.execute(sql, params).fetchall()
            except Exception:
                _close_quietly(conn)
                raise
        if len(self._raw_idle) < self._raw_keep:
            self._raw_idle.append(conn)
        else:
            _close_quietly(conn)
        return rows

    def _raw_connect(self) -> Any:
        url = make_url(self.url)
        if self.is_sqlite:
            conn = sqlite3.connect(url.database or "", timeout=30, isolation_level=None,
                                   check_same_thread=False)
            conn.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA query_only=ON")  # these connections only ever read
            return conn
        import psycopg

        return psycopg.connect(self.postgres_conninfo(), autocommit=True)

    def postgres_conninfo(self) -> str:
        """This PostgreSQL database's address as psycopg takes it (no SQLAlchemy driver)."""
        url = make_url(self.url)
        return url.set(drivername="postgresql").render_as_string(hide_password=False)

    def dispose(self) -> None:
        while self._raw_idle:
            _close_quietly(self._raw_idle.pop())
        self.write_engine.dispose()
        if self.read_engine is not self.write_engine:
            self.read_engine.dispose()


def _close_quietly(conn: Any) -> None:
    try:
        conn.close()
    except Exception:  # a broken connection may fail to close; it is dropped anyway
        log.debug("closing a broken connection failed", exc_info=True)


_databases: dict[str, Database] = {}
_lock = threading.Lock()


def get_database(url: str | None = None) -> Database:
    """The process-wide ``Database`` for ``url`` (default: the settings' URL)."""
    settings = get_settings()
    key = normalize_url(url or settings.database_url)
    with _lock:
        if key not in _databases:
            _databases[key] = Database(key, pool_size=settings.db_pool_size)
        return _databases[key]
