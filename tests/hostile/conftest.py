"""A panel for hostile traffic: the rate limits are off, so that thousands of bad keys from
127.0.0.1 do not end in "Too many requests" and every request reaches validation."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.hostile.target import Target
from tests.support.databases import KINDS
from tests.support.panel import running_panel

NO_LIMITS = {
    "OPENSMM_RATE_LIMIT_PER_KEY": "0",
    "OPENSMM_RATE_LIMIT_PER_IP": "0",
    "OPENSMM_RATE_LIMIT_BAD_KEYS_PER_IP": "0",
}


@pytest.fixture(scope="module", params=KINDS)
def target(request: pytest.FixtureRequest, database_servers: dict) -> Iterator[Target]:
    with running_panel(database_servers, request.param, env=NO_LIMITS) as panel:
        yield Target.build(panel)
