"""Panels started with their own settings (rate limits, metrics token, proxies)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from tests.support.panel import Panel, running_panel


@contextmanager
def panel_with(kind: str, database_servers: dict, **env: str) -> Iterator[Panel]:
    """A running ``opensmm serve`` on a fresh database of ``kind``, with ``OPENSMM_*`` env."""
    with running_panel(database_servers, kind, env=env) as panel:
        yield panel
