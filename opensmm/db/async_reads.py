"""The API's hot reads on PostgreSQL, on the event loop: asyncpg connections.

A read handed to a worker thread costs two thread switches and the GIL passed back and
forth: measured here, 89 µs of CPU per one-row statement through a thread against 36 µs
with an async connection on the loop itself (docs/performance.md). The loop does not wait
for the database meanwhile: it serves other requests until the answer arrives.

Why asyncpg here while everything else uses psycopg: for these one-statement reads its own
work per query is about half of psycopg's (measured on the API's statements: a one-row
``status`` 47 → 17 µs of CPU, 100 rows 157 → 78 µs; docs/performance.md), and these reads
are most of what a panel answers. The statements are the same ones, compiled by SQLAlchemy
for PostgreSQL in psycopg's ``%(name)s`` style; they are rewritten once each to asyncpg's
``$n`` (``dollar_style``). asyncpg prepares each statement once per connection.

Like ``Database.read_rows``: no transaction around a read (one statement, one snapshot, no
BEGIN/ROLLBACK round trips), at most ``size`` connections open at once (more readers wait
for one), a connection that failed is dropped, and a read that failed on a connection that
had been idle (a restarted server) is retried once on a new one. Connections belong to the
event loop that opened them; another loop (only tests run several) gets connections of its
own.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Mapping
from typing import Any

log = logging.getLogger("opensmm.db")

Rows = list[Any]  # asyncpg Records: indexed and iterated like the tuples of other drivers

_PLACEHOLDER = re.compile(r"%\((\w+)\)s|%%")
_rewritten: dict[str, tuple[str, tuple[str, ...]]] = {}


def dollar_style(sql: str) -> tuple[str, tuple[str, ...]]:
    """``sql`` with psycopg's named placeholders as asyncpg's ``$1``…, and the names in the
    order of their numbers (a name used twice keeps one number)."""
    found = _rewritten.get(sql)
    if found is not None:
        return found
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:  # "%%", psycopg's escaped percent sign
            return "%"
        if name not in names:
            names.append(name)
        return f"${names.index(name) + 1}"

    found = (_PLACEHOLDER.sub(number, sql), tuple(names))
    if len(_rewritten) < 1024:  # the API's statements are a few; ad hoc ones are not kept
        _rewritten[sql] = found
    return found


class AsyncReader:
    def __init__(self, conninfo: str, size: int) -> None:
        self.conninfo = conninfo
        self.size = max(1, size)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._idle: list[Any] = []
        self._slots: asyncio.Semaphore | None = None  # one per connection open or opening

    async def rows(self, sql: str, params: tuple[Any, ...] | Mapping[str, Any]) -> Rows:
        """The rows of one read; ``sql`` in psycopg's style, ``params`` by name (what
        SQLAlchemy's PostgreSQL dialect compiles: named parameters, never positional)."""
        if not isinstance(params, Mapping):
            raise TypeError("PostgreSQL statements take their parameters by name")
        statement, names = dollar_style(sql)
        arguments = [params[name] for name in names]
        slots = self._slots_of_this_loop()
        await slots.acquire()
        try:
            reused = bool(self._idle)
            conn = self._idle.pop() if reused else await self._connect()
            try:
                rows: Rows = await conn.fetch(statement, *arguments)
            except Exception:
                lost = conn.is_closed()  # the server went away
                await _close_quietly(conn)
                if not (reused and lost):
                    raise
                conn = await self._connect()
                try:
                    rows = await conn.fetch(statement, *arguments)
                except Exception:
                    await _close_quietly(conn)
                    raise
            self._idle.append(conn)
            return rows
        finally:
            slots.release()

    async def _connect(self) -> Any:
        import asyncpg

        return await asyncpg.connect(self.conninfo)

    def _slots_of_this_loop(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if self._slots is None or self._loop is not loop:
            # Another loop's connections cannot be used (or closed) here: leave them.
            self._loop, self._idle = loop, []
            self._slots = asyncio.Semaphore(self.size)
        return self._slots

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for conn in idle:
            await _close_quietly(conn)


async def _close_quietly(conn: Any) -> None:
    if conn.is_closed():
        return
    try:
        await asyncio.wait_for(conn.close(), timeout=5)
    except Exception:  # a broken connection may fail to close; it is dropped anyway
        log.debug("closing a broken connection failed", exc_info=True)
        conn.terminate()
