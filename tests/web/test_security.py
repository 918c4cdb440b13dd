"""Security of the pages over plain HTTP, against a running panel on both databases:
CSRF, staff pages refused to customers page by page, no cross-customer access, cookie
flags, the log-in rate limit, sessions that really end."""

from __future__ import annotations

import re
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import func, select

from opensmm.accounts.models import ApiKey, User
from opensmm.admin.pages import all_pages
from opensmm.audit.models import AuditEntry
from opensmm.db import Database
from opensmm.errors import DomainError
from opensmm.ledger.models import LedgerEntry
from opensmm.orders.models import Order
from opensmm.refills.models import Refill
from opensmm.web.secret import SecretKey
from tests.support.panel import Panel
from tests.web.support import PASSWORD, WebClient, csrf_of, make_person

STAFF_SPECS = [spec for pages in all_pages() for spec in pages.specs]


# A value for each path parameter that is not a number (Staff → Content: a page, a language).
TEXT_PARAMS = {"{slug}": "terms", "{lang}": "en"}


def staff_paths(method: str) -> list[str]:
    """Every staff route of ``method``, with a number for each numeric path parameter."""
    paths = []
    for spec in STAFF_SPECS:
        if method in spec.methods:
            path = re.sub(r"\{[a-z_]+:int\}", "1", spec.path)
            for name, value in TEXT_PARAMS.items():
                path = path.replace(name, value)
            paths.append(path)
    return sorted(paths)


def count(panel: Panel, model: type, *where: object) -> int:
    with panel.db.read() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def test_every_back_office_page_is_for_staff_only() -> None:
    assert STAFF_SPECS
    for spec in STAFF_SPECS:
        assert spec.path.startswith("/admin"), spec.path
        assert spec.who == "staff", spec.path


# --- CSRF --------------------------------------------------------------------------------
def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(
    panel: Panel, visitor: WebClient
) -> None:
    customer = make_person(panel)
    visitor.login(customer)
    refused = visitor.post("/account/keys", {"label": "no token"}, csrf=False)
    assert refused.status_code == 403
    assert "expired" in refused.text
    forged = visitor.post("/account/keys", {"label": "forged", "csrf": "x" * 43})
    assert forged.status_code == 403
    assert count(panel, ApiKey, ApiKey.user_id == customer.id) == 0
    accepted = visitor.post("/account/keys", {"label": "real"})
    assert accepted.status_code == 303  # POST-redirect-GET
    assert count(panel, ApiKey, ApiKey.user_id == customer.id) == 1


def test_another_visitors_csrf_token_does_not_work(
    panel: Panel, visitor: WebClient, other_visitor: WebClient
) -> None:
    """A token is bound to its visitor's cookie: a page on another site cannot reuse one."""
    victim, attacker = make_person(panel, balance="5"), make_person(panel)
    visitor.login(victim)
    other_visitor.login(attacker)
    attackers_token = other_visitor.token()
    answer = visitor.post("/account/keys", {"label": "x", "csrf": attackers_token})
    assert answer.status_code == 403
    assert count(panel, ApiKey, ApiKey.user_id == victim.id) == 0


def test_the_login_form_needs_its_token_too(panel: Panel, visitor: WebClient) -> None:
    customer = make_person(panel)
    answer = visitor.post("/login", {"login": customer.name, "password": PASSWORD}, csrf=False)
    assert answer.status_code == 403
    assert "opensmm_session" not in answer.cookies


# --- staff pages -----------------------------------------------------------------------------
def test_a_customer_is_refused_every_staff_page(panel: Panel, visitor: WebClient) -> None:
    """Page by page: each GET answers 403 with the staff-only page, nothing else."""
    visitor.login(make_person(panel))
    paths = staff_paths("GET")
    assert len(paths) >= 12
    for path in paths:
        answer = visitor.get(path)
        assert answer.status_code == 403, path
        assert "This page is for staff only." in answer.text, path


def test_a_customer_cannot_post_to_any_staff_page(panel: Panel, visitor: WebClient) -> None:
    """Page by page, with a valid CSRF token and fields that would move money."""
    customer = make_person(panel)
    visitor.login(customer)
    token = visitor.token()
    before = count(panel, AuditEntry)
    paths = staff_paths("POST")
    assert len(paths) >= 15
    for path in paths:
        answer = visitor.post(path, {
            "csrf": token, "amount": "1000", "memo": "mine", "status": "Completed",
            "active": "0", "discount": "100", "name": "x", "url": "x", "markup": "1",
        })
        assert answer.status_code == 403, path
    assert count(panel, AuditEntry) == before
    assert panel.balance(customer) == 0


@pytest.mark.parametrize("path", ["/admin", "/admin/users", "/admin/orders/1"])
def test_an_anonymous_visitor_is_sent_to_the_login_page(visitor: WebClient, path: str) -> None:
    answer = visitor.get(path)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/login?next=")


def test_staff_see_the_staff_pages(panel: Panel, visitor: WebClient) -> None:
    visitor.login(make_person(panel, staff=True))
    for path in staff_paths("GET"):
        if "/1" in path:
            continue  # pages of one record: covered with real records elsewhere
        assert visitor.get(path).status_code == 200, path


# --- one customer, never another's --------------------------------------------------------
def test_a_customer_never_sees_or_touches_another_customers_orders(
    panel: Panel, visitor: WebClient
) -> None:
    mine, theirs = make_person(panel, balance="10"), make_person(panel, balance="10")
    service = panel.service(rate="1", refill=True, cancel=True)
    with panel.write() as session:
        from opensmm.orders.service import place_order

        their_user = session.get(User, theirs.id)
        assert their_user is not None
        order = place_order(session, their_user, {"service": service, "link": "https://their.test/x",
                                                  "quantity": 100})
        their_order = order.id
    panel.set_order(their_order, status="Completed")
    visitor.login(mine)
    listed = visitor.get("/orders", params={"q": str(their_order)})
    assert "their.test" not in listed.text
    assert f'data-order="{their_order}"' not in listed.text
    assert "their.test" not in visitor.get("/orders").text
    assert "their.test" not in visitor.get("/dashboard").text
    cancel = visitor.post(f"/orders/{their_order}/cancel", {"back": "/orders"})
    assert "Incorrect order ID" in visitor.flash(cancel)
    refill = visitor.post(f"/orders/{their_order}/refill", {"back": "/orders"})
    assert "Incorrect order ID" in visitor.flash(refill)
    with panel.db.read() as session:
        assert session.get(Order, their_order).status == "Completed"  # type: ignore[union-attr]
    assert count(panel, Refill, Refill.order_id == their_order) == 0
    assert panel.balance(theirs) == Decimal("9.9")


def test_a_customer_cannot_revoke_another_customers_key(
    panel: Panel, visitor: WebClient
) -> None:
    mine, theirs = make_person(panel), make_person(panel)
    with panel.write() as session:
        from opensmm.accounts.service import create_key

        their_user = session.get(User, theirs.id)
        assert their_user is not None
        key_id = create_key(session, their_user, "theirs").id
    visitor.login(mine)
    page = visitor.get("/account/keys")
    assert "theirs" not in page.text
    answer = visitor.post(f"/account/keys/{key_id}/revoke")
    assert "API key not found" in visitor.flash(answer)
    assert count(panel, ApiKey, ApiKey.id == key_id, ApiKey.revoked_at.is_(None)) == 1


def test_a_customer_sees_only_their_own_refills_and_ledger(
    panel: Panel, visitor: WebClient
) -> None:
    mine, theirs = make_person(panel, balance="3"), make_person(panel, balance="7.77777")
    visitor.login(mine)
    funds = visitor.get("/funds").text
    assert "3.00" in funds
    assert "7.77777" not in funds
    refills = visitor.get("/refills").text
    assert "No refills yet." in refills
    assert theirs.name not in funds + refills


# --- cookies and sessions ----------------------------------------------------------------------
def _set_cookie(response: httpx.Response, name: str) -> str:
    headers = [v for v in response.headers.get_list("set-cookie") if v.startswith(name + "=")]
    assert headers, f"{name} not set"
    return headers[0].lower()


def test_the_session_cookie_is_http_only_and_same_site(panel: Panel, visitor: WebClient) -> None:
    answer = visitor.login(make_person(panel))
    cookie = _set_cookie(answer, "opensmm_session")
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    assert "path=/" in cookie
    assert "secure" not in cookie  # plain HTTP here: a Secure cookie would never come back


def test_the_session_cookie_is_secure_behind_a_trusted_https_proxy(panel: Panel) -> None:
    """From 127.0.0.1 with ``X-Forwarded-Proto: https``: Secure, when 127.0.0.1 is trusted."""
    person = make_person(panel)
    trusted = Panel(kind=panel.kind, database_url=panel.database_url, db=panel.db)
    trusted.start(env={"OPENSMM_TRUSTED_PROXIES": "127.0.0.1"})
    # The proxy speaks plain HTTP to us, so carry the (Secure) cookies by hand, as the
    # browser would over HTTPS.
    proxied = {"X-Forwarded-Proto": "https"}
    try:
        form = httpx.get(f"{trusted.url}/login", headers=proxied)
        anon = _set_cookie(form, "opensmm_anon")
        assert "secure" in anon
        answer = httpx.post(
            f"{trusted.url}/login",
            data={"login": person.name, "password": PASSWORD, "csrf": csrf_of(form.text)},
            headers={**proxied, "Cookie": f"opensmm_anon={form.cookies['opensmm_anon']}"},
        )
        cookie = _set_cookie(answer, "opensmm_session")
        assert "secure" in cookie
        assert "httponly" in cookie
        plain = httpx.get(f"{trusted.url}/login")  # no proxy header: plain HTTP
        assert "secure" not in _set_cookie(plain, "opensmm_anon")
    finally:
        trusted.stop()


def test_logging_out_ends_the_session_for_good(panel: Panel, visitor: WebClient) -> None:
    visitor.login(make_person(panel))
    stolen = visitor.http.cookies["opensmm_session"]
    assert visitor.get("/dashboard").status_code == 200
    visitor.post("/logout")
    replay = WebClient(panel.url)
    replay.http.cookies.set("opensmm_session", stolen)
    try:
        answer = replay.get("/dashboard")
        assert answer.status_code == 303
        assert answer.headers["location"].startswith("/login")
    finally:
        replay.close()


def test_changing_the_password_logs_out_the_other_sessions(
    panel: Panel, visitor: WebClient, other_visitor: WebClient
) -> None:
    person = make_person(panel)
    visitor.login(person)
    other_visitor.login(person)
    changed = visitor.post("/account/password", {
        "password": PASSWORD, "new_password": "a brand new one", "new_password2": "a brand new one",
    })
    assert "Your password has been changed." in visitor.flash(changed)
    assert visitor.get("/dashboard").status_code == 200
    assert other_visitor.get("/dashboard").status_code == 303
    wrong = visitor.post("/account/password", {
        "password": PASSWORD, "new_password": "another one!", "new_password2": "another one!",
    })
    assert wrong.status_code == 400
    assert "The current password is not correct" in wrong.text


def test_a_suspended_customer_is_logged_out_at_once(panel: Panel, visitor: WebClient) -> None:
    customer = make_person(panel)
    staff = WebClient(panel.url)
    try:
        visitor.login(customer)
        staff.login(make_person(panel, staff=True))
        staff.post(f"/admin/users/{customer.id}/status", {"active": "0"})
        assert visitor.get("/dashboard").status_code == 303
        again = visitor.post("/login", {"login": customer.name, "password": PASSWORD})
        assert again.status_code == 403
        assert "Your account is suspended" in again.text
    finally:
        staff.close()


# --- log-in rate limit -------------------------------------------------------------------------
def test_log_ins_are_rate_limited_per_name(panel: Panel, visitor: WebClient) -> None:
    target, bystander = make_person(panel), make_person(panel)
    for _ in range(5):
        wrong = visitor.post("/login", {"login": target.name, "password": "not it at all"})
        assert wrong.status_code == 400
        assert "Wrong user name or password." in wrong.text
    blocked = visitor.post("/login", {"login": target.name, "password": PASSWORD})
    assert blocked.status_code == 429
    assert "Too many failed log-ins" in blocked.text
    assert "opensmm_session" not in blocked.cookies
    assert visitor.login(bystander).status_code == 303  # others can still log in


def test_an_unknown_name_gets_the_same_answer_as_a_wrong_password(
    panel: Panel, visitor: WebClient
) -> None:
    person = make_person(panel)
    unknown = visitor.post("/login", {"login": "nobody-" + person.name, "password": "whatever1"})
    wrong = visitor.post("/login", {"login": person.name, "password": "whatever1"})
    assert unknown.status_code == wrong.status_code == 400
    assert "Wrong user name or password." in unknown.text
    assert "Wrong user name or password." in wrong.text


# --- headers and assets --------------------------------------------------------------------------
def test_pages_forbid_framing_and_outside_scripts(panel: Panel, visitor: WebClient) -> None:
    answer = visitor.get("/login")
    policy = answer.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["cache-control"] == "no-store"


def test_every_asset_is_served_by_the_panel(panel: Panel, visitor: WebClient) -> None:
    visitor.login(make_person(panel))
    for path in ("/dashboard", "/order/new", "/api", "/services"):
        html = visitor.get(path).text
        assets = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert assets
        for asset in assets:
            assert not asset.startswith(("http:", "https:", "//")), (path, asset)
        for asset in (a for a in assets if a.startswith("/static/")):
            assert visitor.get(asset).status_code == 200, asset


def test_a_next_parameter_never_leads_off_the_site(panel: Panel, visitor: WebClient) -> None:
    person = make_person(panel)
    token = csrf_of(visitor.get("/login").text)
    answer = visitor.post("/login", {"login": person.name, "password": PASSWORD,
                                     "next": "//evil.example/x", "csrf": token})
    assert answer.headers["location"] == "/dashboard"


# --- staff actions that move money ----------------------------------------------------------------
def test_a_balance_adjustment_is_a_ledger_entry_and_an_audit_row(
    panel: Panel, visitor: WebClient
) -> None:
    staff, customer = make_person(panel, staff=True), make_person(panel, balance="2")
    visitor.login(staff)
    done = visitor.deposit(customer.id, "10.5", "wire 7")
    assert "changed by $10.50" in visitor.flash(done)
    assert panel.balance(customer) == Decimal("12.5")
    target = AuditEntry.target == f"user:{customer.id}"
    assert count(panel, AuditEntry, AuditEntry.actor == staff.name,
                 AuditEntry.action == "funds.adjust", target) == 1
    # Taking back more than the balance is refused: no ledger entry, no audit row.
    refused = visitor.deposit(customer.id, "-50", "oops")
    assert "Not enough funds on balance" in visitor.flash(refused)
    assert panel.balance(customer) == Decimal("12.5")
    assert count(panel, AuditEntry, AuditEntry.action == "funds.adjust",
                 AuditEntry.target == f"user:{customer.id}") == 1
    assert count(panel, LedgerEntry, LedgerEntry.user_id == customer.id) == 2
    audit = visitor.get("/admin/audit", params={"actor": staff.name}).text
    assert "funds.adjust" in audit
    assert "wire 7" in audit
    assert panel.ledger_mismatches() == []


# --- the secret ------------------------------------------------------------------------------
def test_the_secret_is_generated_once_and_kept_in_the_database(db: Database) -> None:
    first, second = SecretKey(db, "").get(), SecretKey(db, "").get()
    assert first == second
    assert len(first) >= 32
    configured = "x" * 40
    assert SecretKey(db, configured).get() == configured.encode()
    with pytest.raises(DomainError, match="at least 32"):
        SecretKey(db, "short")


def test_suspending_from_the_command_line_ends_the_sessions_for_good(
    panel: Panel, visitor: WebClient
) -> None:
    """Every door suspends through the service: an ``activate`` must not revive a session
    that was open when the account was suspended."""
    customer = make_person(panel)
    visitor.login(customer)
    assert visitor.get("/dashboard").status_code == 200
    token = visitor.http.cookies["opensmm_session"]
    panel.cli("user", "suspend", customer.name)
    panel.cli("user", "activate", customer.name)
    visitor.http.cookies.set("opensmm_session", token)  # as a thief that kept it would
    answer = visitor.get("/dashboard")
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/login")
