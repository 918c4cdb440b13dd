"""The admin API (issue 13, item 10) against a running ``opensmm serve`` on each database:
tokens from the CLI, scopes, every operation through the same services as the back office
(refunds and ledger entries exact, every write audited under the token), hostile input
refused with a 4xx that changes nothing, and the OpenAPI document valid and complete."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import anyio
import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import func, select
from starlette.routing import Route

from opensmm.adminapi import tokens
from opensmm.adminapi.app import build
from opensmm.adminapi.models import AdminToken
from opensmm.adminapi.openapi import served_document
from opensmm.adminapi.routes import operations
from opensmm.adminapi.schemas import OrderStatus, PaymentState, RefillStatus
from opensmm.audit.actor import Actor
from opensmm.audit.models import AuditEntry
from opensmm.db import Database
from opensmm.ledger.models import LedgerEntry
from opensmm.orders import statuses as st
from opensmm.orders.models import Order
from opensmm.payments import methods as payment_methods
from opensmm.payments import service as payment_service
from opensmm.payments.keys import panel_secret
from opensmm.payments.models import STATES, PaymentEvent
from opensmm.refills import statuses as rs
from opensmm.settings import Settings, get_settings
from tests.api.test_cli import Run, in_process_runner
from tests.support.panel import Customer, Panel
from tests.web.support import WebClient, make_person

BASE = "/api/admin/v1"
FUZZ_EXAMPLES = 3  # per operation and database: the hostile cases above are the sharp ones


@dataclass
class Tokens:
    read: str
    write: str
    write_id: int
    write_name: str


@pytest.fixture(scope="module")
def tok(panel: Panel) -> Tokens:
    with panel.write() as session:
        read = tokens.create(session, Actor.cli(), "reader", "read")
        write = tokens.create(session, Actor.cli(), f"bot-{uuid.uuid4().hex[:6]}", "write")
    return Tokens(read.token, write.token, write.id, write.name)


def call(panel: Panel, token: str | None, method: str, path: str, **kwargs: Any
         ) -> httpx.Response:
    headers = dict(kwargs.pop("headers", {}))
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return panel.http.request(method, panel.url + BASE + path, headers=headers, **kwargs)


def ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    return response.json()


def refused(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == code and error["message"]
    return dict(error)


def audit_rows(panel: Panel, token_id: int) -> list[AuditEntry]:
    with panel.db.read() as session:
        return list(session.scalars(
            select(AuditEntry).where(AuditEntry.actor.startswith(f"token:{token_id}:"))
            .order_by(AuditEntry.id)
        ))


def _orders(panel: Panel, customer: Customer, service: int, count: int) -> list[int]:
    return [
        int(panel.api(customer.key, "add", service=service, link=f"https://x.test/{n}",
                      quantity=100)["order"])
        for n in range(count)
    ]


# --- tokens -------------------------------------------------------------------------------
@pytest.fixture
def run(panel: Panel, monkeypatch: pytest.MonkeyPatch) -> Iterator[Run]:
    with in_process_runner(panel.database_url, monkeypatch) as runner:
        yield runner


def test_cli_tokens_are_shown_once_stored_hashed_and_revocable(panel: Panel, run: Run) -> None:
    name = f"cron-{uuid.uuid4().hex[:6]}"
    created = run("admin-token", "create", name, "--scope", "read")
    assert created.exit_code == 0, created.output
    token = created.output.strip().splitlines()[-1]
    assert tokens.looks_like_token(token)
    with panel.db.read() as session:
        row = session.scalar(select(AdminToken).where(AdminToken.name == name))
        assert row is not None and row.scope == "read"
        assert token not in (row.token_hash, row.prefix) and token.startswith(row.prefix)
    listed = run("admin-token", "list")
    assert name in listed.output and token not in listed.output
    assert ok(call(panel, token, "GET", "/users"))["total"] >= 0
    revoked = run("admin-token", "revoke", str(row.id))
    assert revoked.exit_code == 0, revoked.output
    refused(call(panel, token, "GET", "/users"), 401, "unauthorized")
    for bad in (["create", "x", "--scope", "admin"], ["create", "", "--scope", "read"],
                ["revoke", "99999999999"], ["revoke", "nope"]):
        result = run("admin-token", *bad)
        assert result.exit_code == 1 and "error:" in result.output, (bad, result.output)
    with panel.db.read() as session:
        actions = session.scalars(select(AuditEntry.action).where(
            AuditEntry.target == f"admin_token:{row.id}")).all()
    assert sorted(actions) == ["admin_token.create", "admin_token.revoke"]


def test_tokens_and_scopes(panel: Panel, tok: Tokens) -> None:
    customer = panel.customer(balance="5")
    path = f"/users/{customer.id}/balance"
    body = {"amount": "1", "memo": "x", "idempotency_key": uuid.uuid4().hex}
    missing = refused(call(panel, None, "POST", path, json=body), 401, "unauthorized")
    assert "Bearer" in missing["message"]
    answer = call(panel, None, "GET", "/orders")
    assert answer.headers["www-authenticate"].startswith("Bearer")
    for header in ("Basic abc", "Bearer", "Bearer osa_" + "a" * 40, tok.write,
                   "Bearer " + tok.write + "x"):
        refused(call(panel, None, "GET", "/orders", headers={"Authorization": header}),
                401, "unauthorized")
    refused(call(panel, tok.read, "POST", path, json=body), 403, "forbidden")
    refused(call(panel, tok.read, "POST", "/orders/1/cancel"), 403, "forbidden")
    assert panel.balance(customer) == Decimal("5")
    assert ok(call(panel, tok.read, "GET", f"/users/{customer.id}"))["balance"] == "5.00"
    # The document needs no token.
    assert ok(call(panel, None, "GET", "/openapi.json"))["openapi"].startswith("3.1")


# --- orders -------------------------------------------------------------------------------
def test_orders_list_update_partial_cancel_audited(panel: Panel, tok: Tokens) -> None:
    customer = panel.customer(balance="100")
    service = panel.service(rate="2")  # 100 units: 0.20 each order
    first, second, third = _orders(panel, customer, service, 3)
    listed = ok(call(panel, tok.read, "GET", "/orders",
                     params={"user": customer.id, "status": "Pending"}))
    assert [o["id"] for o in listed["items"]] == [third, second, first]
    assert listed["total"] == 3 and listed["page"] == 1 and listed["pages"] == 1
    assert listed["items"][0]["charge"] == "0.20" and listed["items"][0]["user"] == customer.name
    assert ok(call(panel, tok.read, "GET", "/orders",
                   params={"user": customer.id, "status": "Completed"}))["total"] == 0
    assert ok(call(panel, tok.read, "GET", "/orders", params={"search": str(second)})
              )["items"][0]["id"] == second
    waiting = ok(call(panel, tok.read, "GET", "/manual-orders"))
    assert {first, second, third} <= {o["id"] for o in waiting["items"]}

    started = ok(call(panel, tok.write, "PATCH", f"/orders/{first}",
                      json={"status": "In progress", "start_count": 1500}))
    assert (started["status"], started["start_count"]) == ("In progress", 1500)
    partial = ok(call(panel, tok.write, "POST", f"/orders/{second}/partial",
                      json={"remains": 25}))
    assert (partial["status"], partial["remains"], partial["refunded"]) == ("Partial", 25, "0.05")
    canceled = ok(call(panel, tok.write, "POST", f"/orders/{third}/cancel"))
    assert (canceled["status"], canceled["refunded"]) == ("Canceled", "0.20")
    refused(call(panel, tok.write, "POST", f"/orders/{third}/cancel"), 422, "refused")
    refused(call(panel, tok.write, "PATCH", f"/orders/{second}", json={"remains": 10}),
            422, "refused")
    refused(call(panel, tok.write, "PATCH", f"/orders/{first}", json={"remains": 101}),
            422, "refused")
    refused(call(panel, tok.read, "GET", "/orders/2147483647"), 404, "not_found")
    assert panel.balance(customer) == Decimal("100") - Decimal("0.60") + Decimal("0.25")
    assert ok(call(panel, tok.read, "GET", f"/orders/{first}"))["status"] == "In progress"
    waiting = ok(call(panel, tok.read, "GET", "/manual-orders"))
    assert {second, third}.isdisjoint(o["id"] for o in waiting["items"])
    rows = [(r.action, r.target, r.door) for r in audit_rows(panel, tok.write_id)]
    assert ("order.update", f"order:{first}", "api") in rows
    assert ("order.update", f"order:{second}", "api") in rows
    assert ("order.cancel", f"order:{third}", "api") in rows
    assert panel.ledger_mismatches() == []


def test_cancels_and_refills(panel: Panel, tok: Tokens) -> None:
    customer = panel.customer(balance="10")
    service = panel.service(rate="1", refill=True)
    asked, done = _orders(panel, customer, service, 2)
    with panel.write() as session:
        order = session.get(Order, asked)
        assert order is not None
        order.cancel_state = "requested"
    cancels = ok(call(panel, tok.read, "GET", "/cancels", params={"state": "requested"}))
    assert asked in [o["id"] for o in cancels["items"]]
    assert done not in [o["id"] for o in ok(call(panel, tok.read, "GET", "/cancels"))["items"]]

    panel.set_order(done, status="Completed")
    refill = int(panel.api(customer.key, "refill", order=done)["refill"])
    pending = ok(call(panel, tok.read, "GET", "/refills", params={"status": "Pending"}))
    assert refill in [r["id"] for r in pending["items"]]
    changed = ok(call(panel, tok.write, "PATCH", f"/refills/{refill}",
                      json={"status": "Completed"}))
    assert (changed["id"], changed["status"], changed["order_id"]) == (refill, "Completed", done)
    refused(call(panel, tok.write, "PATCH", f"/refills/{refill}", json={"status": "Done"}),
            422, "invalid")
    refused(call(panel, tok.write, "PATCH", "/refills/2147483647",
                 json={"status": "Completed"}), 404, "not_found")
    assert ("refill.update", f"refill:{refill}") in [
        (r.action, r.target) for r in audit_rows(panel, tok.write_id)]


# --- users and money ----------------------------------------------------------------------
def test_balance_adjusted_exactly_through_the_ledger_once_per_key(panel: Panel,
                                                                   tok: Tokens) -> None:
    customer = panel.customer(balance="1")
    found = ok(call(panel, tok.read, "GET", "/users", params={"search": customer.name}))
    assert [u["id"] for u in found["items"]] == [customer.id]
    key = uuid.uuid4().hex
    body = {"amount": "12.34567", "memo": "Bank transfer 42", "idempotency_key": key}
    path = f"/users/{customer.id}/balance"
    first = ok(call(panel, tok.write, "POST", path, json=body))
    assert first == {"user_id": customer.id, "amount": "12.34567", "idempotency_key": key,
                     "replayed": False, "balance": "13.34567"}
    again = ok(call(panel, tok.write, "POST", path, json=body))
    assert again["replayed"] is True and again["balance"] == "13.34567"
    refused(call(panel, tok.write, "POST", path, json={**body, "amount": "5"}), 422, "refused")
    back = ok(call(panel, tok.write, "POST", path, json={
        "amount": "-0.34567", "memo": "correction", "idempotency_key": uuid.uuid4().hex}))
    assert back["balance"] == "13.00"
    assert panel.balance(customer) == Decimal("13")
    with panel.db.read() as session:
        amounts = session.scalars(select(LedgerEntry.amount).where(
            LedgerEntry.user_id == customer.id).order_by(LedgerEntry.id)).all()
    assert amounts == [Decimal("1"), Decimal("12.34567"), Decimal("-0.34567")]
    adjusted = [r for r in audit_rows(panel, tok.write_id) if r.action == "funds.adjust"
                and r.target == f"user:{customer.id}"]
    assert [r.params["amount"] for r in adjusted] == ["12.34567", "-0.34567"]
    assert all(r.actor == f"token:{tok.write_id}:{tok.write_name}" for r in adjusted)
    assert panel.ledger_mismatches() == []


def test_payments_list_approve_reject(panel: Panel, tok: Tokens) -> None:
    customer = panel.customer()
    method = f"bank{uuid.uuid4().hex[:6]}"
    secret = panel_secret(panel.db)
    with panel.write() as session:
        payment_methods.add_method(session, Actor.cli(), name=method, gateway="manual",
                                   panel_secret=secret)
    paid, failed = (
        payment_service.start(panel.db, secret, user_id=customer.id, method_name=method,
                              amount="20", base_url=panel.url,
                              customer_reference=f"T-{uuid.uuid4().hex[:8]}").payment_id
        for _ in range(2)
    )
    waiting = ok(call(panel, tok.read, "GET", "/payments",
                      params={"state": "pending", "method": method}))
    assert [p["id"] for p in waiting["items"]] == [failed, paid]
    approved = ok(call(panel, tok.write, "POST", f"/payments/{paid}/approve", json={}))
    assert approved["state"] == "paid" and approved["paid"] == "20.00"
    refused(call(panel, tok.write, "POST", f"/payments/{paid}/approve", json={}),
            422, "refused")
    refused(call(panel, tok.write, "POST", f"/payments/{failed}/reject", json={"reason": "x"}),
            422, "invalid")
    rejected = ok(call(panel, tok.write, "POST", f"/payments/{failed}/reject",
                       json={"reason": "Nothing arrived"}))
    assert rejected["state"] == "failed"
    assert ok(call(panel, tok.read, "GET", f"/payments/{failed}"))["state"] == "failed"
    assert panel.balance(customer) == Decimal("20")
    with panel.db.read() as session:
        decided = session.scalars(select(PaymentEvent.source).where(
            PaymentEvent.payment_id.in_([paid, failed]), PaymentEvent.event_type.startswith(
                "staff."))).all()
    assert decided == ["api", "api"]
    actions = {(r.action, r.target) for r in audit_rows(panel, tok.write_id)}
    assert {("payment.approve", f"payment:{paid}"),
            ("payment.reject", f"payment:{failed}")} <= actions


# --- hostile input ------------------------------------------------------------------------
def _snapshot(panel: Panel) -> tuple[int, int, int]:
    with panel.db.read() as session:
        return (
            int(session.scalar(select(func.count()).select_from(LedgerEntry)) or 0),
            int(session.scalar(select(func.count()).select_from(AuditEntry)) or 0),
            int(session.scalar(select(func.count()).where(Order.status != st.PENDING)) or 0),
        )


def test_hostile_input_is_refused_and_changes_nothing(panel: Panel, tok: Tokens) -> None:
    customer = panel.customer(balance="3")
    (order,) = _orders(panel, customer, panel.service(rate="1"), 1)
    money = f"/users/{customer.id}/balance"
    good = {"amount": "1", "memo": "m", "idempotency_key": "k" * 10}
    raw = {"headers": {"content-type": "application/json"}}
    cases: list[tuple[str, str, dict[str, Any], int, str]] = [
        ("POST", money, {"content": b"{not json", **raw}, 422, "invalid"),
        ("POST", money, {"content": b"\xff\xfe\x00", **raw}, 422, "invalid"),
        ("POST", money, {"content": b"[1, 2]", **raw}, 422, "invalid"),
        ("POST", money, {"json": {**good, "amount": 12.5}}, 422, "invalid"),
        ("POST", money, {"json": {**good, "amount": "1.123456"}}, 422, "invalid"),
        ("POST", money, {"json": {**good, "amount": "1e3"}}, 422, "invalid"),
        ("POST", money, {"json": {**good, "amount": "9" * 400}}, 422, "invalid"),
        ("POST", money, {"json": {**good, "amount": "NaN"}}, 422, "invalid"),
        ("POST", money, {"json": {**good, "amount": "0"}}, 422, "refused"),
        ("POST", money, {"json": {**good, "extra": 1}}, 422, "invalid"),
        ("POST", money, {"json": {**good, "memo": ""}}, 422, "invalid"),
        ("POST", money, {"json": {**good, "memo": "a\x00b"}}, 422, "invalid"),
        ("POST", money, {"json": {**good, "memo": "   "}}, 422, "refused"),
        ("GET", "/orders", {"params": {"search": "a\x00"}}, 422, "invalid"),
        ("GET", "/users", {"params": {"search": "\x00"}}, 422, "invalid"),
        ("GET", "/payments", {"params": {"user": "\x00", "method": "\x1b"}}, 422, "invalid"),
        ("POST", money, {"json": {**good, "idempotency_key": "short"}}, 422, "invalid"),
        ("POST", money, {"json": {k: v for k, v in good.items() if k != "memo"}}, 422,
         "invalid"),
        ("POST", money, {"content": b'{"amount": "1", "memo": "' + b"x" * 70_000 + b'"}',
                         **raw}, 413, "too_large"),
        ("POST", "/users/99999999999/balance", {"json": good}, 404, "not_found"),
        ("POST", "/users/2147483647/balance", {"json": good}, 404, "not_found"),
        ("PATCH", f"/orders/{order}", {"json": {"remains": -1}}, 422, "invalid"),
        ("PATCH", f"/orders/{order}", {"json": {"remains": "5"}}, 422, "invalid"),
        ("PATCH", f"/orders/{order}", {"json": {"remains": 10**30}}, 422, "invalid"),
        ("PATCH", f"/orders/{order}", {"json": {"start_count": 1.5}}, 422, "invalid"),
        ("PATCH", f"/orders/{order}", {"json": {"status": "Done"}}, 422, "invalid"),
        ("PATCH", f"/orders/{order}", {"json": {"status": None, "bogus": True}}, 422,
         "invalid"),
        ("PATCH", f"/orders/{order}", {"content": b"1" * 5000, **raw}, 422, "invalid"),
        ("POST", f"/orders/{order}/partial", {"json": {"remains": 0}}, 422, "invalid"),
        ("GET", "/orders", {"params": {"page": "0"}}, 422, "invalid"),
        ("GET", "/orders", {"params": {"page": "x"}}, 422, "invalid"),
        ("GET", "/orders", {"params": {"user": "9" * 50}}, 422, "invalid"),
        ("GET", "/orders", {"params": {"status": "Done"}}, 422, "invalid"),
        ("GET", "/orders", {"params": {"nope": "1"}}, 422, "invalid"),
        ("GET", "/orders", {"params": [("page", "1"), ("page", "2")]}, 422, "invalid"),
        ("GET", "/orders/1", {"params": {"x": "1"}}, 422, "invalid"),
        ("GET", "/orders/-1", {}, 404, "not_found"),
        ("GET", "/nothing-here", {}, 404, "not_found"),
        ("DELETE", f"/orders/{order}", {}, 405, "method_not_allowed"),
    ]
    before = _snapshot(panel)
    for method, path, kwargs, status, code in cases:
        error = refused(call(panel, tok.write, method, path, **kwargs), status, code)
        assert "Traceback" not in error["message"], (method, path)
    assert _snapshot(panel) == before
    assert panel.balance(customer) == Decimal("2.90")
    assert "Traceback" not in panel.server_log()


# --- the document -------------------------------------------------------------------------
def test_openapi_document_is_valid_and_names_every_route(panel: Panel, tok: Tokens) -> None:
    from schemathesis.specs.openapi.definitions import OPENAPI_31_VALIDATOR

    served = ok(call(panel, None, "GET", "/openapi.json"))
    assert served == served_document()
    assert list(OPENAPI_31_VALIDATOR.iter_errors(served)) == []
    documented = {(method.upper(), path) for path, item in served["paths"].items()
                  for method in item}
    app = build(panel.db, get_settings())
    routed = {
        (method, route.path.replace(":int}", "}"))
        for route in app.app.routes  # type: ignore[attr-defined]
        if isinstance(route, Route)
        for method in (route.methods or ()) if method != "HEAD"
    }
    assert routed == documented
    assert len(operations.all) == len(documented) - 1  # and the document itself
    # The enums the schemas spell out are the services' own.
    assert set(OrderStatus.__args__) == {*st.ORDER_STATUSES, *st.SUBSCRIPTION_STATUSES}
    assert set(RefillStatus.__args__) == set(rs.REFILL_STATUSES)
    assert set(PaymentState.__args__) == set(STATES)


# --- the staff page -----------------------------------------------------------------------
def test_staff_see_and_revoke_tokens_on_their_page(panel: Panel) -> None:
    with panel.write() as session:
        new = tokens.create(session, Actor.cli(), f"page-{uuid.uuid4().hex[:6]}", "write")
    boss = make_person(panel, staff=True)
    arabic = WebClient(panel.url, **{"accept-language": "ar"})
    english = WebClient(panel.url, **{"accept-language": "en"})
    try:
        arabic.login(boss)
        shown = arabic.get("/admin/tokens").text
        assert "رموز" in shown and new.name in shown and new.token not in shown
        english.login(boss)
        page = english.get("/admin/tokens").text
        assert "Admin API tokens" in page and "Read and write" in page
        assert new.token[:10] in page and new.token not in page
        done = english.post(f"/admin/tokens/{new.id}/revoke")
        assert f"Admin token {new.name} revoked." in english.flash(done)
    finally:
        arabic.close()
        english.close()
    refused(call(panel, new.token, "GET", "/orders"), 401, "unauthorized")
    with panel.db.read() as session:
        row = session.scalar(select(AuditEntry).where(
            AuditEntry.target == f"admin_token:{new.id}", AuditEntry.action.endswith("revoke")))
    assert row is not None and row.actor == boss.name and row.door == "web"


# --- generated requests -------------------------------------------------------------------
schema = schemathesis.openapi.from_dict(served_document())
# Random requests only: the coverage phase's every-boundary cases cost more than the test
# budget allows (the hostile cases above pick the sharp ones by hand).
schema.config.phases.update(phases=["fuzzing"])


@schema.parametrize()
@settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_generated_requests_get_documented_answers(case, panel: Panel, tok: Tokens) -> None:  # type: ignore[no-untyped-def]
    """Requests made from the document (valid and not) by a write token: every answer is
    JSON of a documented status and shape, never a 500."""
    case.headers = {**(case.headers or {}), "Authorization": f"Bearer {tok.write}"}
    response = case.call_and_validate(
        base_url=panel.url,
        checks=[not_a_server_error, status_code_conformance, content_type_conformance,
                response_schema_conformance],
    )
    assert response.status_code < 500


# --- guessing tokens ----------------------------------------------------------------------
def test_guessing_tokens_is_rate_limited(db: Database) -> None:
    """In process, on each database: an address that sent too many bad tokens is refused
    (429, Retry-After) before any lookup, even with a good one."""
    settings = Settings(database_url=db.url, rate_limit_bad_keys_per_ip=2, redis_url=None)
    with db.write() as session:
        good = tokens.create(session, Actor.cli(), "guarded", "read").token
    app = build(db, settings)

    async def requests() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://panel") as client:
            first = await client.get(BASE + "/users", headers={"Authorization": f"Bearer {good}"})
            assert first.status_code == 200
            for _ in range(2):
                bad = await client.get(BASE + "/users",
                                       headers={"Authorization": "Bearer osa_nope"})
                assert bad.status_code == 401
            return await client.get(BASE + "/users", headers={"Authorization": f"Bearer {good}"})

    limited = anyio.run(requests)
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    assert limited.json()["error"]["code"] == "rate_limited"
