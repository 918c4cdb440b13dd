"""``/healthz`` and ``/readyz`` on both databases: migrated, behind, ahead, never migrated,
missing, unreachable and hanging; each a short JSON answer, never a traceback."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.engine import make_url

from opensmm.app import OpenSMM
from opensmm.db import Database
from opensmm.db.migrate import alembic_config, shipped_revisions
from opensmm.observability.health import HealthEndpoint
from opensmm.settings import Settings
from tests.support.databases import PostgresServer

HEAD, _KNOWN = shipped_revisions()
PREVIOUS = _KNOWN[1]


def _get(app: Any, *paths: str, method: str = "GET") -> list[httpx.Response]:
    async def run() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://panel") as client:
            return [await client.request(method, path) for path in paths]

    return asyncio.run(run())


def _readyz(db: Database, timeout: float = 5.0) -> tuple[int, dict[str, object]]:
    (answer,) = _get(HealthEndpoint(db, timeout), "/readyz")
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["cache-control"] == "no-store"
    return answer.status_code, answer.json()


def test_ready_follows_the_migrations_without_a_restart(database_url: str) -> None:
    db = Database(database_url)
    try:
        app = OpenSMM(Settings(database_url=database_url), db)
        healthz, readyz = _get(app, "/healthz", "/readyz")
        assert (healthz.status_code, healthz.json()) == (200, {"ok": True})
        assert (readyz.status_code, readyz.json()) == (200, {"ok": True})
        (head,) = _get(app, "/readyz", method="HEAD")
        assert head.status_code == 200 and head.content == b""
        (post,) = _get(app, "/readyz", method="POST")
        assert post.status_code == 405 and post.headers["allow"] == "GET, HEAD"

        # Behind: a database one migration short (an older backup restored, say).
        command.downgrade(alembic_config(database_url), PREVIOUS)
        (behind,) = _get(app, "/readyz")
        assert behind.status_code == 503
        assert behind.json() == {"ok": False, "reason": (
            f"the database is at migration {PREVIOUS}, this version needs {HEAD}: "
            "run `opensmm db upgrade`"
        )}
        assert _get(app, "/healthz")[0].status_code == 200  # alive all the same

        command.upgrade(alembic_config(database_url), "head")
        assert _get(app, "/readyz")[0].json() == {"ok": True}

        # Ahead: a newer opensmm migrated it, this one runs on (a rolled-back upgrade).
        with db.write() as session:
            session.execute(text("UPDATE alembic_version SET version_num = '9999'"))
        assert _readyz(db) == (503, {"ok": False, "reason": (
            "the database is at migration 9999, which this version does not know (a newer "
            f"opensmm migrated it); this version needs {HEAD}"
        )})
    finally:
        db.dispose()


@pytest.fixture
def empty_postgres(database_servers: dict) -> Iterator[str]:
    server: PostgresServer = database_servers["postgresql"]
    name = f"opensmm_empty_{uuid.uuid4().hex[:10]}"
    with server.admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield server.url_for(name)
    with server.admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_a_database_never_migrated_or_not_there_is_not_ready(
    empty_postgres: str, database_servers: dict
) -> None:
    root: Path = database_servers["sqlite"].root
    empty_file = root / f"empty-{uuid.uuid4().hex[:8]}.db"
    sqlite3.connect(empty_file).close()
    missing_file = root / f"missing-{uuid.uuid4().hex[:8]}.db"
    never = {"ok": False, "reason": "the database has never been migrated"}
    for url, expected in (
        (empty_postgres, never),
        (f"sqlite:///{empty_file}", never),
        (f"sqlite:///{missing_file}", {"ok": False, "reason": "there is no database file"}),
    ):
        db = Database(url)
        try:
            assert _readyz(db) == (503, expected), url
        finally:
            db.dispose()
    assert not missing_file.exists()  # the check made no empty database


def test_a_database_down_or_hanging_is_not_ready_and_answered_in_time(
    database_servers: dict,
) -> None:
    server: PostgresServer = database_servers["postgresql"]
    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    down = Database(_on_port(server, port))
    try:
        assert _readyz(down) == (
            503, {"ok": False, "reason": "the database cannot be reached (OperationalError)"}
        )
    finally:
        down.dispose()
    # A server that accepts connections and never answers: the probe gives up in time.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        hanging = Database(_on_port(server, silent.getsockname()[1]))
        try:
            assert _readyz(hanging, timeout=0.3) == (
                503, {"ok": False, "reason": "the database did not answer within 0.3 s"}
            )
        finally:
            hanging.dispose()


def _on_port(server: PostgresServer, port: int) -> str:
    url = make_url(server.url_for("opensmm")).set(port=port)
    return url.render_as_string(hide_password=False)
