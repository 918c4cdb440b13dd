"""A panel for hostile traffic: the rate limits are off, so that thousands of bad keys from
127.0.0.1 do not end in "Too many requests" and every request reaches validation."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from opensmm.db import Database
from tests.hostile.target import Target
from tests.support.databases import KINDS
from tests.support.panel import Panel

NO_LIMITS = {
    "OPENSMM_RATE_LIMIT_PER_KEY": "0",
    "OPENSMM_RATE_LIMIT_PER_IP": "0",
    "OPENSMM_RATE_LIMIT_BAD_KEYS_PER_IP": "0",
}


@pytest.fixture(scope="module", params=KINDS)
def target(request: pytest.FixtureRequest, database_servers: dict) -> Iterator[Target]:
    server = database_servers[request.param]
    url = server.new_database()
    database = Database(url)
    panel = Panel(kind=request.param, database_url=url, db=database)
    panel.start(env=NO_LIMITS)
    try:
        yield Target.build(panel)
    finally:
        panel.stop()
        database.dispose()
        server.drop(url)
