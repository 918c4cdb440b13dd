"""PostgreSQL's async connections for the hot reads (opensmm.db.async_reads, asyncpg).

The answers themselves are checked through the running server by the rest of tests/api (on
PostgreSQL every ``status``, ``balance`` and ``services`` goes through this reader); here, what
only the reader does: how many connections it opens, what a failed statement leaves, and a
server that drops its connections (a restart) costing no request an error.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import asyncpg
import psycopg
import pytest

from opensmm.db import Database
from opensmm.db.async_reads import AsyncReader, dollar_style


@pytest.fixture
def pg(database_servers: dict) -> Iterator[Database]:
    server = database_servers["postgresql"]
    url = server.new_database()
    db = Database(url)
    try:
        yield db
    finally:
        db.dispose()
        server.drop(url)


def _backends(db: Database) -> int:
    with psycopg.connect(db.postgres_conninfo(), autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
        ).fetchone()
        assert row is not None
        return int(row[0])


def test_many_readers_share_at_most_size_connections(pg: Database) -> None:
    reader = AsyncReader(pg.postgres_conninfo(), size=3)

    async def main() -> tuple[list[list[tuple[object, ...]]], int]:
        answers = await asyncio.gather(
            *[reader.rows("SELECT %(n)s::int, pg_sleep(0.01)::text", {"n": n}) for n in range(40)]
        )
        opened = _backends(pg)
        await reader.close()
        return answers, opened

    answers, opened = asyncio.run(main())
    assert [rows[0][0] for rows in answers] == list(range(40))
    assert opened == 3


def test_a_failed_statement_is_the_callers_error_and_the_reader_goes_on(pg: Database) -> None:
    reader = AsyncReader(pg.postgres_conninfo(), size=1)

    async def main() -> list[tuple[object, ...]]:
        with pytest.raises(asyncpg.exceptions.UndefinedTableError):
            await reader.rows("SELECT * FROM no_such_table", {})
        rows = await reader.rows("SELECT 1", {})
        await reader.close()
        return rows

    assert asyncio.run(main()) == [(1,)]


def test_connections_dropped_by_the_server_cost_no_request_an_error(pg: Database) -> None:
    reader = AsyncReader(pg.postgres_conninfo(), size=2)

    async def main() -> list[list[tuple[object, ...]]]:
        await asyncio.gather(reader.rows("SELECT 1", {}), reader.rows("SELECT 1", {}))
        # What a restarted server does to every open connection.
        with psycopg.connect(pg.postgres_conninfo(), autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                " AND backend_type = 'client backend'"
            )
        answers = await asyncio.gather(*[reader.rows("SELECT 2", {}) for _ in range(4)])
        await reader.close()
        return answers

    assert asyncio.run(main()) == [[(2,)]] * 4


def test_psycopg_placeholders_become_asyncpg_numbers() -> None:
    sql = "SELECT %(a)s, %(b)s, %(a)s WHERE x LIKE 'y%%' AND z = %(c_1)s"
    assert dollar_style(sql) == ("SELECT $1, $2, $1 WHERE x LIKE 'y%' AND z = $3",
                                 ("a", "b", "c_1"))
