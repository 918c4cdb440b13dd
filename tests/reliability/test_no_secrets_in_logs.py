"""Keys, passwords and upstream keys never reach the server's log.

A panel runs with debug logging; customers use their keys every way the API accepts, guess
keys, log in on the web pages; the worker sends an order to an upstream panel with our key
there; a fault (a table renamed under the server) makes requests fail with SQL errors that
carry their parameters. Then the whole log is searched for every secret.
"""

from __future__ import annotations

import hashlib
import json
import time

import pytest
from sqlalchemy import select, text

from opensmm.accounts.keys import hash_key
from opensmm.accounts.models import User
from tests.fakepanel import FakePanel, Received
from tests.security.support import panel_with
from tests.support.databases import KINDS

UPSTREAM_KEY = "UpstreamKey0123456789abcdefghijklmnopqrstuv"
PASSWORD = "correct horse battery staple 42"
GUESSES = ["G" * 40, "Guess" + "x" * 35, "a1" * 20]


def _status(received: Received) -> object:
    answer = {
        "charge": "0.1",
        "start_count": "5",
        "status": "In progress",
        "remains": "10",
        "currency": "USD",
    }
    orders = received.params.get("orders")
    if orders:
        return {order: answer for order in str(orders).split(",")}
    return answer


@pytest.mark.parametrize("kind", KINDS)
def test_no_secret_appears_in_the_log_of_a_busy_panel(kind: str, database_servers: dict) -> None:
    upstream = FakePanel(key=UPSTREAM_KEY).start()
    upstream.on("balance", {"balance": "100", "currency": "USD"})
    upstream.on("add", {"order": 777})
    upstream.on("status", _status)
    try:
        with panel_with(
            kind,
            database_servers,
            OPENSMM_LOG_LEVEL="debug",
            OPENSMM_WORKER_IDLE_SECONDS="0.2",
            OPENSMM_WORKER_POLL_SECONDS="0.5",
        ) as panel:
            log_text, secrets = _busy_day(panel, upstream)
    finally:
        upstream.stop()

    lines = [json.loads(line) for line in log_text.splitlines() if line.startswith("{")]
    access = [line for line in lines if line["logger"] == "opensmm.access"]
    # The log is really there and says who did what: without it this test proves nothing.
    assert len(access) >= 10
    assert {line["outcome"] for line in access} >= {"ok", "invalid_key", "failed"}
    assert all(isinstance(line["key_id"], int) for line in access if line["outcome"] == "ok")
    assert upstream.count("add") == 1
    for name, secret in secrets.items():
        assert secret not in log_text, f"the {name} is in the log"
    # The SQL errors were logged (with whatever parameters the driver put in them scrubbed).
    failures = [line for line in lines if line["msg"] == "API request failed"]
    assert len(failures) >= 2 and "api_keys" in failures[0]["exc"]


def _busy_day(panel, upstream: FakePanel) -> tuple[str, dict[str, str]]:  # type: ignore[no-untyped-def]
    panel.cli("provider", "add", "up", upstream.url, UPSTREAM_KEY)
    service = panel.cli(
        "service",
        "add",
        "--name",
        "Up",
        "--category",
        "C",
        "--rate",
        "1",
        "--min",
        "10",
        "--max",
        "1000",
        "--mode",
        "provider",
        "--provider",
        "up",
        "--provider-service",
        "1",
        "--json",
    )
    service_id = json.loads(service.stdout)["id"]
    panel.cli("user", "create", "bob", "--password", PASSWORD, "--email", "bob@example.com")
    key = json.loads(panel.cli("key", "create", "bob", "--json").stdout)["key"]
    panel.cli("funds", "add", "bob", "10", "--memo", "test")

    api = panel.api_url
    panel.http.get(api, params={"key": key, "action": "balance"})
    panel.http.post(api, data={"key": key, "action": "services"})
    panel.http.post(api, json={"key": key, "action": "balance"})
    panel.http.post(api, files={"key": (None, key), "action": (None, "balance")})
    order = panel.api(key, "add", service=service_id, link="https://x.test/p", quantity=100)
    panel.http.get(api, params={"key": key, "action": "status", "order": order["order"]})
    for guess in GUESSES:
        panel.http.get(api, params={"key": guess, "action": "balance"})
    panel.http.post(f"{panel.url}/login", data={"login": "bob", "password": PASSWORD})
    upstream.wait_for(1, "add", timeout=30)
    _wait_for_status_check(upstream)

    # A fault: the keys' table disappears for a moment; requests fail with SQL errors.
    _rename(panel, "api_keys", "api_keys_gone")
    try:
        panel.http.get(api, params={"key": key, "action": "balance"})
        panel.http.post(api, data={"key": key, "action": "status", "order": order["order"]})
    finally:
        _rename(panel, "api_keys_gone", "api_keys")
    assert panel.api(key, "balance")["balance"] == "9.90"

    with panel.db.read() as session:
        password_hash = session.scalar(select(User.password_hash).where(User.name == "bob"))
    assert password_hash
    panel.stop()  # flush and close the log
    secrets = {
        "API key": key,
        "API key's hash": hash_key(key),
        "password": PASSWORD,
        "password hash": password_hash,
        "upstream key": UPSTREAM_KEY,
        "upstream key's hash": hashlib.sha256(UPSTREAM_KEY.encode()).hexdigest(),
    }
    secrets.update({f"guessed key {n}": guess for n, guess in enumerate(GUESSES)})
    return panel.server_log(), secrets


def _wait_for_status_check(upstream: FakePanel) -> None:
    deadline = time.monotonic() + 30
    while upstream.count("status") == 0:
        assert time.monotonic() < deadline, "the worker never checked the order upstream"
        time.sleep(0.1)


def _rename(panel, old: str, new: str) -> None:  # type: ignore[no-untyped-def]
    with panel.db.write() as session:
        session.execute(text(f"ALTER TABLE {old} RENAME TO {new}"))


def test_the_scrubber_removes_what_looks_like_a_secret_and_keeps_the_rest() -> None:
    from opensmm.observability.logs import scrub

    key = "Ab3" * 14
    assert scrub(f"GET /api/v2?key={key}&action=status") == (
        "GET /api/v2?key=[redacted]&action=status"
    )
    assert scrub("password=hunter2 token: abc") == "password=[redacted] token: [redacted]"
    assert scrub('{"api_key": "short1"}') == '{"api_key": "[redacted]"}'
    assert "argon2" not in scrub("hash $argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA done")
    assert scrub(f"[parameters: ('{hash_key(key)}',)]") == "[parameters: ('[redacted]',)]"
    kept = "order 12345 for user bob: Not enough funds on balance (took 2.5 ms)"
    assert scrub(kept) == kept
