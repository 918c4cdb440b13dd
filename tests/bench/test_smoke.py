"""The benchmark harness keeps working: its smoke mode runs end to end in seconds.

No timing is asserted (speed is for the benchmark to report, not for tests to judge): only
that every measurement, ratio, memory reading and goal comes out well formed, and that the
generated section of docs/performance.md is replaced without touching the prose.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench import loads, report
from bench.profile import summarize
from tests.support.databases import PostgresServer

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory, database_servers: dict) -> dict:
    postgres: PostgresServer = database_servers["postgresql"]
    out = tmp_path_factory.mktemp("bench")
    docs = out / "performance.md"
    docs.write_text("# Performance\n\nProse that stays.\n")
    env = {**os.environ, "BENCH_POSTGRES_URL": postgres.admin_url, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "bench.run", "--smoke", "--out", str(out), "--docs", str(docs)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=240, check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return {
        "results": json.loads((out / "smoke.json").read_text()),
        "docs": docs.read_text(),
        "stdout": result.stdout,
    }


def test_every_server_and_action_is_measured(smoke: dict) -> None:
    summary = smoke["results"]["summary"]
    measured = {(row["target"], row["db"], row["action"]) for row in summary}
    expected = {("null", "", "null"), ("starlette", "", "null")} | {
        ("opensmm", db, action) for db in ("sqlite", "postgresql") for action in loads.ACTIONS
    }
    assert measured == expected
    for row in summary:
        assert row["rps"] > 0 and row["ratio_to_null"] > 0
        assert 0 < row["p50_ms"] <= row["p99_ms"]
    assert next(r for r in summary if r["target"] == "null")["ratio_to_null"] == 1.0


def test_adds_placed_orders_scale_and_memory_are_reported(smoke: dict) -> None:
    results = smoke["results"]
    assert set(results["add_check"]) == {"sqlite", "postgresql"}
    assert all(check["ok"] and check["answered"] > 0 for check in results["add_check"].values())
    scale = {(row["db"], row["action"]) for row in results["scale"]}
    assert scale == {(db, a) for db in ("sqlite", "postgresql")
                     for a in ("status_one", "status_100")}
    for row in results["scale"]:
        assert row["orders_large"] > row["orders_small"] and row["ratio"] > 0
    for label in ("opensmm/sqlite", "opensmm/postgresql"):
        memory = results["memory"][label]
        assert memory["idle"]["rss_mb"] > 10
        assert memory["under_load"]["rss_mb"] >= memory["idle"]["largest_process_rss_mb"] > 0
    worker = results["worker"]["databases"]
    assert set(worker) == {"sqlite", "postgresql"}
    for numbers in worker.values():
        assert numbers["orders"] > 0 and numbers["sync_orders_per_second"] > 0
        assert numbers["forwarded"] > 0 and numbers["forward_orders_per_second"] > 0
    assert results["targets"] and all(isinstance(goal["met"], bool)
                                      for goal in results["targets"])


def test_the_table_goes_into_the_docs_section(smoke: dict) -> None:
    docs = smoke["docs"]
    assert docs.startswith("# Performance\n\nProse that stays.\n")
    assert docs.count(report.BEGIN) == 1 and docs.count(report.END) == 1
    assert "| opensmm | postgresql | status (100 ids) |" in docs
    # What was printed is what was written.
    section = docs.split(report.BEGIN)[1].split(report.END)[0].strip()
    assert section in smoke["stdout"]


def test_write_section_replaces_only_its_own_section(tmp_path: Path) -> None:
    path = tmp_path / "p.md"
    path.write_text("# P\n\nbefore\n")
    report.write_section(path, "first table\n")
    path.write_text(path.read_text() + "\nafter\n")
    report.write_section(path, "second table\n")
    text = path.read_text()
    assert "first table" not in text and "second table" in text
    assert text.startswith("# P\n\nbefore\n") and text.endswith("\nafter\n")


def test_profile_summary_counts_self_and_inclusive_time() -> None:
    collapsed = (
        "run (uvicorn/server.py:1);status (/work/main/opensmm/api/actions.py:9);"
        "execute (sqlalchemy/orm/session.py:5) 3\n"
        "run (uvicorn/server.py:1);dumps (orjson.py:1) 1\n"
    )
    summary = summarize(collapsed)
    assert summary["samples"] == 4
    assert summary["self"][0] == ("execute (sqlalchemy/orm/session.py)", 75.0)
    assert summary["inclusive_project"] == [("status (opensmm/api/actions.py)", 75.0)]
