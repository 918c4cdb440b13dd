"""The CLI's rough edges of issue 13: a database never migrated, a provider's site given for
its API, an import of a category that does not exist, the demo's database URL."""

from __future__ import annotations

import shlex
import sqlite3
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from opensmm.db import Database
from tests.fakepanel import FakePanel, Json, Received, Text
from tests.fulfillment import helpers as h
from tests.fulfillment.conftest import KEY
from tests.fulfillment.test_providers_cli import UPSTREAM, cli_json
from tests.support.panel import run_cli

SITE = "<!doctype html><html><body>Method Not Allowed</body></html>"


def _one_clear_line(stderr: str) -> str:
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "run `opensmm db upgrade`" in lines[0]
    return lines[0]


def test_a_missing_sqlite_database_is_one_clear_line_and_no_empty_file() -> None:
    path = Path(tempfile.mkdtemp(prefix="opensmm-none-")) / "never.db"
    url = f"sqlite:///{path}"
    for args in (["order", "list"], ["user", "create", "alice"], ["provider", "list"]):
        done = run_cli(url, *args, check=False)
        assert done.returncode == 1
        assert f"there is no database at {path}" in _one_clear_line(done.stderr)
        assert not path.exists()


@pytest.fixture
def empty_database(request: pytest.FixtureRequest, database_servers: dict[str, Any]) -> Iterator[
    str
]:
    """A database that exists but was never migrated, of each kind."""
    if request.param == "sqlite":
        path = Path(tempfile.mkdtemp(prefix="opensmm-empty-")) / "empty.db"
        sqlite3.connect(path).close()
        yield f"sqlite:///{path}"
        return
    server = database_servers["postgresql"]
    name = f"opensmm_empty_{uuid.uuid4().hex[:10]}"
    with server.admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = server.url_for(name)
    yield url
    server.drop(url)


@pytest.mark.parametrize("empty_database", ["sqlite", "postgresql"], indirect=True)
def test_a_database_never_migrated_is_one_clear_line(empty_database: str) -> None:
    done = run_cli(empty_database, "order", "list", check=False)
    assert done.returncode == 1
    assert "never been migrated" in _one_clear_line(done.stderr)
    run_cli(empty_database, "db", "upgrade")
    assert run_cli(empty_database, "order", "list").returncode == 0


def _site(fake: FakePanel) -> str:
    """The fake panel's address without its API path: what a person copies from a browser."""
    parts = urlsplit(fake.url)
    return f"{parts.scheme}://{parts.netloc}"


def _site_with_api(fake: FakePanel) -> None:
    """Like a real panel: its site at ``/`` refuses a POST with an HTML page (HTTP 405);
    the API lives at ``/api/v2``."""

    def balance(received: Received) -> Any:
        if received.path.split("?")[0].rstrip("/") != "/api/v2":
            return Text(SITE, status=405)
        return Json({"balance": "42.5", "currency": "USD"})

    fake.on("balance", balance)


def test_provider_add_with_the_site_s_address_uses_its_api(
    database_url: str, fake: FakePanel
) -> None:
    _site_with_api(fake)
    done = run_cli(database_url, "provider", "add", "up", _site(fake) + "/", KEY)
    assert f"using {_site(fake)}/api/v2" in done.stderr
    providers = cli_json(database_url, "provider", "list")["providers"]
    assert [(p["name"], p["url"]) for p in providers] == [("up", f"{_site(fake)}/api/v2")]


def test_provider_add_with_a_site_and_no_api_hints_at_api_v2(
    database_url: str, fake: FakePanel
) -> None:
    fake.on("balance", Text(SITE, status=405))
    done = run_cli(database_url, "provider", "add", "up", _site(fake), KEY, check=False)
    assert done.returncode == 1
    assert "HTTP 405" in done.stderr
    assert "The URL must be the provider's API endpoint" in done.stderr
    assert f"{_site(fake)}/api/v2" in done.stderr
    assert "Traceback" not in done.stderr
    assert cli_json(database_url, "provider", "list")["providers"] == []


def test_import_of_an_unknown_category_lists_the_provider_s(
    database_url: str, fake: FakePanel
) -> None:
    fake.on("balance", {"balance": "42.5", "currency": "USD"})
    fake.on("services", UPSTREAM)
    run_cli(database_url, "provider", "add", "up", fake.url, KEY)
    done = run_cli(database_url, "provider", "import", "up", "--category", "Nope",
                   "--category", "tiktok")
    assert "1 imported" in done.stdout
    assert "no category 'Nope' at up; its categories: Instagram, TikTok" in done.stderr


def test_demo_prints_the_database_url_the_cli_needs(tmp_path: Path) -> None:
    done = run_cli("sqlite:///unused.db", "demo", "--no-serve", "--database-url",
                   f"sqlite:///{tmp_path}/demo.db")
    exports = [line.strip() for line in done.stdout.splitlines() if "export " in line]
    assert exports == [f"export OPENSMM_DATABASE_URL={shlex.quote(f'sqlite:///{tmp_path}/demo.db')}"]
    # ... and with it, the CLI sees the demo's panel.
    users = run_cli(f"sqlite:///{tmp_path}/demo.db", "order", "list")
    assert users.returncode == 0


def test_service_disable_and_enable(database_url: str, db: Database) -> None:
    service_id = h.service(db)
    assert "disabled" in run_cli(database_url, "service", "disable", str(service_id)).stdout
    listed = cli_json(database_url, "service", "list")["services"]
    assert [s["enabled"] for s in listed if s["id"] == service_id] == [False]
    assert "enabled" in run_cli(database_url, "service", "enable", str(service_id)).stdout
    listed = cli_json(database_url, "service", "list")["services"]
    assert [s["enabled"] for s in listed if s["id"] == service_id] == [True]
    missing = run_cli(database_url, "service", "disable", "999", check=False)
    assert missing.returncode == 1 and "Traceback" not in missing.stderr


def test_refill_list(database_url: str, db: Database) -> None:
    assert run_cli(database_url, "refill", "list").stdout.strip() == "No refills"
    who = h.customer(db)
    order_id = h.place(db, who, h.service(db))
    run_cli(database_url, "order", "set", str(order_id), "--status", "Completed")
    refill_id = h.refill(db, who, order_id)
    listed = cli_json(database_url, "refill", "list", "--status", "pending")["refills"]
    assert [(r["id"], r["order"], r["status"]) for r in listed] == [
        (refill_id, order_id, "Pending")
    ]
    assert str(order_id) in run_cli(database_url, "refill", "list", "--user", who.name).stdout
    assert cli_json(database_url, "refill", "list", "--status", "Completed")["refills"] == []
    bad = run_cli(database_url, "refill", "list", "--status", "Nope", check=False)
    assert bad.returncode == 1 and "Unknown refill status" in bad.stderr
