"""Fixtures for the web pages: visitors with their own cookies, and (for the browser
tests) one panel on SQLite whose simulator finishes orders in about a second."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.databases import PostgresServer, SqliteFiles
from tests.support.panel import Panel, running_panel
from tests.web.support import WebClient

FAST_SIMULATOR = {
    "OPENSMM_SIMULATOR_SECONDS": "1",
    "OPENSMM_SIMULATOR_PARTIAL_PERCENT": "0",
    "OPENSMM_WORKER_IDLE_SECONDS": "0.2",
    "OPENSMM_WORKER_POLL_SECONDS": "1",
    "OPENSMM_LOG_LEVEL": "warning",
}


@pytest.fixture
def visitor(panel: Panel) -> Iterator[WebClient]:
    client = WebClient(panel.url)
    yield client
    client.close()


@pytest.fixture
def other_visitor(panel: Panel) -> Iterator[WebClient]:
    client = WebClient(panel.url)
    yield client
    client.close()


@pytest.fixture(scope="module")
def fast_panel(database_servers: dict[str, PostgresServer | SqliteFiles]) -> Iterator[Panel]:
    """A running ``opensmm serve`` on SQLite with a quick simulator, for browser journeys."""
    with running_panel(database_servers, "sqlite", env=FAST_SIMULATOR) as panel:
        yield panel
