"""Shared fixtures: real SQLite and PostgreSQL databases and a running panel on each."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from opensmm.db import Database
from tests.support.databases import KINDS, PostgresServer, SqliteFiles
from tests.support.panel import Panel


@pytest.fixture(scope="session")
def database_servers() -> Iterator[dict[str, PostgresServer | SqliteFiles]]:
    servers: dict[str, PostgresServer | SqliteFiles] = {
        "sqlite": SqliteFiles(),
        "postgresql": PostgresServer(),
    }
    yield servers
    for server in servers.values():
        server.close()


@pytest.fixture(params=KINDS)
def database_url(request: pytest.FixtureRequest, database_servers: dict) -> Iterator[str]:
    """A fresh, migrated database of each kind, for one test."""
    server = database_servers[request.param]
    url = server.new_database()
    yield url
    server.drop(url)


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.dispose()


def _panel(kind: str, database_servers: dict) -> Iterator[Panel]:
    server = database_servers[kind]
    url = server.new_database()
    database = Database(url)
    panel = Panel(kind=kind, database_url=url, db=database)
    panel.start()
    try:
        yield panel
    finally:
        panel.stop()
        database.dispose()
        server.drop(url)


@pytest.fixture(scope="module", params=KINDS)
def panel(request: pytest.FixtureRequest, database_servers: dict) -> Iterator[Panel]:
    """A running ``opensmm serve`` on each database, shared by a test module.

    Tests isolate themselves by creating their own customers and services.
    """
    yield from _panel(request.param, database_servers)
