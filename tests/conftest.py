"""Shared fixtures: real SQLite and PostgreSQL databases, a running panel on each, Redis, and
the ``--screenshots`` option."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from opensmm.db import Database
from tests.support.databases import KINDS, PostgresServer, SqliteFiles
from tests.support.panel import Panel, running_panel
from tests.support.redis_server import RedisServer

SCREENSHOTS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--screenshots",
        action="store_true",
        help=f"let the browser tests write the README's screenshots into {SCREENSHOTS}",
    )
    parser.addoption(
        "--axe-all",
        action="store_true",
        help="run axe-core on every kind of customer and staff page, in English and Arabic "
        "(slow: by default one page of each layout is checked)",
    )


@pytest.fixture
def screenshots(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """Where the browser tests save their screenshots: the tracked ``docs/screenshots`` with
    ``--screenshots``, else a temporary folder (the pages are still shot and checked)."""
    if request.config.getoption("--screenshots"):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        return SCREENSHOTS
    return tmp_path


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A Redis server's URL: ``OPENSMM_TEST_REDIS_URL``, or one started for the session."""
    server = RedisServer()
    yield server.url
    server.close()


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


@pytest.fixture(scope="module", params=KINDS)
def panel(request: pytest.FixtureRequest, database_servers: dict) -> Iterator[Panel]:
    """A running ``opensmm serve`` on each database, shared by a test module.

    Tests isolate themselves by creating their own customers and services.
    """
    with running_panel(database_servers, request.param) as started:
        yield started
