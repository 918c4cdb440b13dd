"""Status webhooks for resellers (spec §7): a signed POST to a key's URL when an order or
refill changes status, retried until a 2xx, never to the panel's own network unless allowed.
Against a real panel's database (SQLite and PostgreSQL) and a receiver on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from opensmm.accounts import service as accounts
from opensmm.accounts.models import ApiKey, User
from opensmm.db import utcnow
from opensmm.payments.keys import panel_secret
from opensmm.settings import get_settings
from opensmm.webhooks import sender
from opensmm.webhooks.models import WebhookDelivery
from opensmm.webhooks.signing import verify
from tests.api.test_cli import Run, in_process_runner
from tests.support.panel import Customer, Panel
from tests.web.support import WebClient, make_person


class Receiver:
    """An HTTP server that records what it is sent and answers ``status``."""

    def __init__(self) -> None:
        self.status = 200
        self.received: list[tuple[dict[str, str], bytes]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                outer.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(outer.status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.received]


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    started = Receiver()
    yield started
    started.server.shutdown()


@pytest.fixture
def allow_private(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The receiver is on 127.0.0.1, which a panel refuses to post to by default."""
    monkeypatch.setenv("OPENSMM_WEBHOOKS_ALLOW_PRIVATE", "1")
    get_settings.cache_clear()
    yield
    monkeypatch.delenv("OPENSMM_WEBHOOKS_ALLOW_PRIVATE")
    get_settings.cache_clear()


@pytest.fixture
def run(panel: Panel, monkeypatch: pytest.MonkeyPatch) -> Iterator[Run]:
    with in_process_runner(panel.database_url, monkeypatch) as runner:
        yield runner


def _key_id(panel: Panel, customer: Customer) -> int:
    with panel.db.read() as session:
        found = session.scalar(select(ApiKey.id).where(ApiKey.user_id == customer.id))
        assert found is not None
        return found


def _send(panel: Panel) -> int:
    """One pass of the worker's webhook phase, made due now."""
    with panel.write() as session:
        session.execute(update(WebhookDelivery).where(WebhookDelivery.state == "pending")
                        .values(next_attempt_at=utcnow() - timedelta(seconds=1)))
    with httpx.Client() as http:
        return sender.run_once(panel.db, http, panel_secret(panel.db))


def test_a_status_change_is_posted_signed_and_retried_until_answered(
    panel: Panel, receiver: Receiver, run: Run, allow_private: None
) -> None:
    customer = panel.customer(balance="10")
    key_id = _key_id(panel, customer)
    set_hook = run("key", "webhook", str(key_id), receiver.url)
    assert set_hook.exit_code == 0, set_hook.output
    secret = set_hook.output.strip().splitlines()[-1]
    assert secret.startswith("whsec_")
    service = panel.service(rate="1")
    order = panel.api(customer.key, "add", service=service, link="https://x.test/a",
                      quantity=100)["order"]
    receiver.received.clear()
    receiver.status = 503  # the reseller's server is down at first
    panel.set_order(order, status="In progress", start_count=10)
    assert _send(panel) == 1 and len(receiver.received) == 1
    with panel.db.read() as session:
        [row] = session.scalars(select(WebhookDelivery).where(WebhookDelivery.object_id == order))
        assert (row.state, row.attempts, row.last_code) == ("pending", 1, 503)
        assert row.next_attempt_at > utcnow()  # backed off
    receiver.status = 200
    assert _send(panel) == 1
    headers, body = receiver.received[-1]
    assert verify(secret, body, headers["x-opensmm-signature"])
    assert not verify("whsec_wrong", body, headers["x-opensmm-signature"])
    assert json.loads(body) == {"order": order, "charge": "0.10", "start_count": "10",
                                "status": "In progress", "remains": "100", "currency": "USD"}
    assert _send(panel) == 0  # delivered: never again
    with panel.db.read() as session:
        [row] = session.scalars(select(WebhookDelivery).where(WebhookDelivery.object_id == order))
        assert (row.state, row.attempts) == ("delivered", 2)


def test_refills_and_completions_are_told_and_other_customers_are_not(
    panel: Panel, receiver: Receiver, run: Run, allow_private: None
) -> None:
    customer, stranger = panel.customer(balance="10"), panel.customer(balance="10")
    run("key", "webhook", str(_key_id(panel, customer)), receiver.url)
    service = panel.service(rate="1", refill=True)
    mine = panel.api(customer.key, "add", service=service, link="https://x.test/b",
                     quantity=100)["order"]
    theirs = panel.api(stranger.key, "add", service=service, link="https://x.test/c",
                       quantity=100)["order"]
    panel.set_order(mine, status="Completed")
    panel.set_order(theirs, status="Completed")
    refill = int(panel.api(customer.key, "refill", order=mine)["refill"])
    panel.set_refill(refill, "Completed")
    receiver.received.clear()
    _send(panel)
    got = receiver.bodies()
    assert {"refill": refill, "status": "Completed"} in got
    assert [b["status"] for b in got if b.get("order") == mine] == ["Completed"]
    assert all(b.get("order") != theirs for b in got)


def test_a_turned_off_or_revoked_hook_is_not_told(
    panel: Panel, receiver: Receiver, run: Run, allow_private: None
) -> None:
    customer = panel.customer(balance="10")
    key_id = _key_id(panel, customer)
    run("key", "webhook", str(key_id), receiver.url)
    off = run("key", "webhook", str(key_id), "")
    assert off.exit_code == 0 and "turned off" in off.output
    service = panel.service(rate="1")
    order = panel.api(customer.key, "add", service=service, link="https://x.test/d",
                      quantity=100)["order"]
    panel.set_order(order, status="In progress")
    with panel.db.read() as session:
        assert session.scalars(select(WebhookDelivery)
                               .where(WebhookDelivery.object_id == order)).all() == []


def test_private_addresses_are_refused_unless_allowed(
    panel: Panel, receiver: Receiver, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENSMM_WEBHOOKS_ALLOW_PRIVATE", raising=False)
    get_settings.cache_clear()
    assert get_settings().webhooks_allow_private is False
    customer = panel.customer(balance="10")
    run("key", "webhook", str(_key_id(panel, customer)), receiver.url)
    order = panel.api(customer.key, "add", service=panel.service(rate="1"),
                      link="https://x.test/e", quantity=100)["order"]
    receiver.received.clear()
    panel.set_order(order, status="In progress")
    _send(panel)
    assert receiver.received == []
    with panel.db.read() as session:
        [row] = session.scalars(select(WebhookDelivery).where(WebhookDelivery.object_id == order))
        assert row.last_error == "the URL leads to a private or local address"


@pytest.mark.parametrize("url", ["ftp://x.test/h", "javascript:alert(1)", "http://",
                                 "https://user:pw@x.test/h", "https://x.test/" + "a" * 600,
                                 "https://x.test/a b", "https://x.test:99999/"])
def test_bad_urls_are_refused_with_a_clear_line(panel: Panel, run: Run, url: str) -> None:
    customer = panel.customer()
    result = run("key", "webhook", str(_key_id(panel, customer)), url)
    assert result.exit_code == 1 and "webhook URL" in result.output, result.output
    with panel.db.read() as session:
        key = session.get(ApiKey, _key_id(panel, customer))
        assert key is not None and key.webhook_url is None


def test_customers_set_their_webhook_on_the_keys_page(panel: Panel, receiver: Receiver) -> None:
    person = make_person(panel, balance="1")
    with panel.write() as session:
        key_id = accounts.create_key(session, session.get(User, person.id)).id  # type: ignore[arg-type]
    client = WebClient(panel.url)
    try:
        client.login(person)
        page = client.get("/account/keys")
        assert page.status_code == 200 and 'id="webhooks"' in page.text
        answer = client.post(f"/account/keys/{key_id}/webhook", {"url": receiver.url})
        assert answer.status_code == 303  # POST-redirect-GET: the secret shows on the next page
        shown = client.get("/account/keys").text
        assert 'id="webhook-secret"' in shown and "whsec_" in shown
        assert "whsec_" not in client.get("/account/keys").text  # once
        bad = client.post(f"/account/keys/{key_id}/webhook", {"url": "ftp://nope"})
        assert bad.status_code in (200, 400) and "webhook URL" in bad.text
        stranger = make_person(panel)
        with panel.write() as session:
            other = accounts.create_key(session, session.get(User, stranger.id)).id  # type: ignore[arg-type]
        assert client.post(f"/account/keys/{other}/webhook",
                           {"url": receiver.url}).status_code in (303, 400, 404)
        off = client.post(f"/account/keys/{key_id}/webhook", {"url": ""})
        assert off.status_code == 303
    finally:
        client.close()
    with panel.db.read() as session:
        row = session.get(ApiKey, key_id)
        assert row is not None and row.webhook_url is None and row.webhook_secret is None
        assert session.get(ApiKey, other).webhook_url is None  # type: ignore[union-attr]
