"""Panels started with their own settings (rate limits, metrics token, proxies), and Redis."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import redis

from opensmm.db import Database
from tests.support.panel import Panel

REDIS_URL = os.environ.get("OPENSMM_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@contextmanager
def panel_with(kind: str, database_servers: dict, **env: str) -> Iterator[Panel]:
    """A running ``opensmm serve`` on a fresh database of ``kind``, with ``OPENSMM_*`` env."""
    server = database_servers[kind]
    url = server.new_database()
    database = Database(url)
    panel = Panel(kind=kind, database_url=url, db=database)
    panel.start(env=env)
    try:
        yield panel
    finally:
        panel.stop()
        database.dispose()
        server.drop(url)


def redis_client() -> redis.Redis:
    """Redis for the tests that need it; they fail (never skip) when it is not running."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=5)
    client.ping()
    return client
