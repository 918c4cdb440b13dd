"""Shared helpers of the client tests: the API key and a sync/async runner."""

from __future__ import annotations

import asyncio
from typing import Any

from opensmm.client import AsyncClient, Client

KEY = "Sk3yL3aksN0t4llow3d"


class Api:
    """Calls one client method through a fresh ``Client`` or ``AsyncClient``.

    ``api("status", 5)`` runs ``Client(url, KEY).status(5)`` in "sync" mode and
    ``await AsyncClient(url, KEY).status(5)`` (under ``asyncio.run``) in "async" mode, so
    that each test covers both clients with the same assertions.
    """

    def __init__(self, mode: str, url: str, key: str = KEY, **options: Any) -> None:
        self.mode = mode
        self.url = url
        self.key = key
        self.options = options

    def with_options(self, **options: Any) -> Api:
        merged = {**self.options, **options}
        url = merged.pop("url", self.url)
        key = merged.pop("key", self.key)
        return Api(self.mode, url, key, **merged)

    def __call__(self, method: str, *args: Any, **kwargs: Any) -> Any:
        if self.mode == "sync":
            with Client(self.url, self.key, **self.options) as client:
                return getattr(client, method)(*args, **kwargs)

        async def run() -> Any:
            async with AsyncClient(self.url, self.key, **self.options) as client:
                return await getattr(client, method)(*args, **kwargs)

        return asyncio.run(run())
