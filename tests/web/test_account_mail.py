"""Password reset, email verification and the account's email, against a running panel on
both databases (no SMTP configured: the mails wait in the outbox, where the tests read
them, as staff would see them). Hostile input gets a 4xx and a message, never a 500."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import delete, select, update

from opensmm.accounts.models import AccountToken, User
from opensmm.audit.actor import Actor
from opensmm.audit.models import AuditEntry
from opensmm.db import utcnow
from opensmm.mail.models import FAILED, QUEUED, MailOutbox
from opensmm.panel_settings import service as panel_settings
from opensmm.web.models import LoginAttempt
from tests.support.panel import Panel, opensmm_env
from tests.web.support import PASSWORD, Person, WebClient, make_person

LINK = re.compile(r"https?://[^\s\"<]+?(/(?:password/reset|email/verify)\?token=[A-Za-z0-9_-]+)")
NEW_PASSWORD = "a brand new passphrase"


@pytest.fixture(autouse=True)
def fresh_limits(panel: Panel) -> Iterator[None]:
    """Every test here comes from 127.0.0.1: start each with the address limits empty."""
    def clear() -> None:
        with panel.write() as session:
            session.execute(delete(LoginAttempt).where(LoginAttempt.name.startswith("+")))

    clear()
    yield
    clear()


def mails_to(panel: Panel, address: str, template: str | None = None) -> list[MailOutbox]:
    with panel.db.read() as session:
        query = select(MailOutbox).where(MailOutbox.recipient == address)
        if template is not None:
            query = query.where(MailOutbox.template == template)
        rows = list(session.scalars(query.order_by(MailOutbox.id)))
        for row in rows:
            session.expunge(row)
        return rows


def link_in(mail: MailOutbox) -> str:
    match = LINK.search(mail.text_body)
    assert match, mail.text_body
    assert match.group(1) in mail.html_body
    return match.group(1)


def email_of(person: Person) -> str:
    return f"{person.name}@example.test"


def user_row(panel: Panel, user_id: int) -> User:
    with panel.db.read() as session:
        user = session.get(User, user_id)
        assert user is not None
        session.expunge(user)
        return user


# --- password reset ----------------------------------------------------------------------
def test_forgot_password_answers_the_same_whether_or_not_the_account_exists(
    panel: Panel, visitor: WebClient
) -> None:
    customer = make_person(panel)
    login_page = visitor.get("/login").text
    assert 'href="/password/forgot"' in login_page
    assert visitor.get("/password/forgot").status_code == 200
    known = visitor.post("/password/forgot", {"login": customer.name})
    unknown = visitor.post("/password/forgot", {"login": "nobody-" + customer.name})
    by_email = visitor.post("/password/forgot", {"login": email_of(customer).upper()})
    assert known.status_code == unknown.status_code == by_email.status_code == 200
    strip = re.compile(r'name="csrf" value="[^"]+"')
    assert strip.sub("", known.text) == strip.sub("", unknown.text)
    assert 'id="reset-sent"' in known.text
    sent = mails_to(panel, email_of(customer), "password_reset")
    assert len(sent) == 2  # by name, and by email in capitals
    assert sent[0].status == QUEUED
    assert mails_to(panel, "nobody-" + email_of(customer)) == []


def test_a_reset_link_sets_a_new_password_once_and_ends_every_session(
    panel: Panel, visitor: WebClient, other_visitor: WebClient
) -> None:
    customer = make_person(panel)
    other_visitor.login(customer)  # a session somewhere else, with the old password
    assert other_visitor.get("/dashboard").status_code == 200
    visitor.post("/password/forgot", {"login": customer.name})
    [mail] = mails_to(panel, email_of(customer), "password_reset")
    link = link_in(mail)
    with panel.db.read() as session:  # only the hash is stored
        stored = session.scalars(select(AccountToken.token_hash)
                                 .where(AccountToken.user_id == customer.id)).all()
    assert link.split("token=")[1] not in stored
    form = visitor.get(link)
    assert form.status_code == 200
    token = link.split("token=")[1]
    mismatch = visitor.post("/password/reset", {"token": token, "password": NEW_PASSWORD,
                                                "password2": NEW_PASSWORD + "x"})
    assert mismatch.status_code == 400
    assert "do not match" in mismatch.text
    short = visitor.post("/password/reset", {"token": token, "password": "short",
                                             "password2": "short"})
    assert short.status_code == 400
    assert "8 to 256" in short.text
    done = visitor.post("/password/reset", {"token": token, "password": NEW_PASSWORD,
                                            "password2": NEW_PASSWORD})
    assert done.status_code == 303
    assert done.headers["location"] == "/login"
    assert "Your password has been changed" in visitor.flash(done)
    # The other session ended; the old password no longer works, the new one does.
    assert other_visitor.get("/dashboard").status_code == 303
    assert visitor.post("/login", {"login": customer.name,
                                   "password": PASSWORD}).status_code == 400
    visitor.login(Person(customer.id, customer.name, NEW_PASSWORD))
    # The link works once.
    again = other_visitor.get(link)
    assert again.status_code == 400
    assert "not valid" in again.text
    reused = other_visitor.post("/password/reset", {"token": token, "password": PASSWORD,
                                                    "password2": PASSWORD})
    assert reused.status_code == 303  # the form's page cannot be shown: a flash instead
    assert "not valid" in other_visitor.flash(reused)
    other_visitor.login(Person(customer.id, customer.name, NEW_PASSWORD))


def test_an_expired_or_superseded_link_is_refused(panel: Panel, visitor: WebClient) -> None:
    customer = make_person(panel)
    visitor.post("/password/forgot", {"login": customer.name})
    first = link_in(mails_to(panel, email_of(customer), "password_reset")[0])
    visitor.post("/password/forgot", {"login": customer.name})
    second = link_in(mails_to(panel, email_of(customer), "password_reset")[1])
    assert "not valid" in visitor.get(first).text  # a newer link ends the older one
    assert visitor.get(second).status_code == 200
    with panel.write() as session:
        session.execute(update(AccountToken).where(AccountToken.user_id == customer.id)
                        .values(expires_at=utcnow() - timedelta(seconds=1)))
    expired = visitor.get(second)
    assert expired.status_code == 400
    assert "expired" in expired.text


@pytest.mark.parametrize("token", [
    "", "x", "A" * 43, "A" * 5000, "%00abc", "abc%0d%0aSet-Cookie:%20x=1", "ü" * 50,
    "%F0%9F%92%A9" * 30, "' OR 1=1 --",
])
def test_bad_tokens_get_a_clear_refusal(panel: Panel, visitor: WebClient, token: str) -> None:
    for path in ("/password/reset", "/email/verify"):
        shown = visitor.get(f"{path}?token={token}")
        assert shown.status_code == 400, (path, shown.status_code)
        assert "not valid" in shown.text
    posted = visitor.post("/password/reset", {"token": token, "password": NEW_PASSWORD,
                                              "password2": NEW_PASSWORD})
    assert posted.status_code in (303, 400)
    verified = visitor.post("/email/verify", {"token": token})
    assert verified.status_code in (303, 400)


def test_forgot_password_is_rate_limited_per_account_and_per_address(
    panel: Panel, visitor: WebClient
) -> None:
    customer = make_person(panel)
    for _ in range(5):
        assert visitor.post("/password/forgot", {"login": customer.name}).status_code == 200
    assert len(mails_to(panel, email_of(customer), "password_reset")) == 3  # per account
    answers = [visitor.post("/password/forgot", {"login": f"ghost{n}"}).status_code
               for n in range(6)]
    assert answers[:5] == [200] * 5  # 10 per address per hour, 5 used above
    assert answers[5] == 429
    refused = visitor.post("/password/forgot", {"login": customer.name})
    assert refused.status_code == 429
    assert "Too many requests" in refused.text


def test_hostile_forgot_password_input(panel: Panel, visitor: WebClient) -> None:
    for login in ("", "   ", "x" * 100_000, "a\x00b", "\x01\x02", "<script>alert(1)</script>",
                  "' OR 1=1 --", "🙂" * 300):
        answer = visitor.post("/password/forgot", {"login": login})
        assert answer.status_code in (200, 400), (login[:20], answer.status_code)
        assert "<script>alert(1)</script>" not in answer.text


# --- staff and the command line ----------------------------------------------------------
def test_staff_send_a_reset_link_and_set_a_password_audited(
    panel: Panel, visitor: WebClient, other_visitor: WebClient
) -> None:
    boss, customer = make_person(panel, staff=True), make_person(panel)
    other_visitor.login(customer)
    visitor.login(boss)
    page = visitor.get(f"/admin/users/{customer.id}").text
    assert "Send reset link" in page and "Set password" in page
    sent = visitor.post(f"/admin/users/{customer.id}/reset-link")
    assert "A password reset link was queued" in visitor.flash(sent)
    [mail] = mails_to(panel, email_of(customer), "password_reset")
    assert visitor.get(link_in(mail)).status_code == 200
    mismatch = visitor.post(f"/admin/users/{customer.id}/password",
                            {"password": NEW_PASSWORD, "password2": "other"})
    assert "do not match" in visitor.flash(mismatch)
    set_it = visitor.post(f"/admin/users/{customer.id}/password",
                          {"password": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert "sessions have ended" in visitor.flash(set_it)
    assert other_visitor.get("/dashboard").status_code == 303
    other_visitor.login(Person(customer.id, customer.name, NEW_PASSWORD))
    with panel.db.read() as session:
        actions = session.scalars(select(AuditEntry.action)
                                  .where(AuditEntry.target == f"user:{customer.id}")).all()
    assert {"user.reset_link", "user.set_password"} <= set(actions)
    audit_page = visitor.get("/admin/audit").text
    assert f"Set the password of {customer.name}" in audit_page


def test_the_cli_sets_a_password_from_stdin_and_ends_sessions(
    panel: Panel, visitor: WebClient
) -> None:
    customer = make_person(panel)
    visitor.login(customer)
    done = subprocess.run(
        [sys.executable, "-m", "opensmm.cli.main", "user", "password", customer.name,
         "--password-stdin"],
        input=NEW_PASSWORD + "\n", capture_output=True, text=True, timeout=60,
        env=opensmm_env(panel.database_url), cwd=os.getcwd(), check=False,
    )
    assert done.returncode == 0, done.stderr
    assert NEW_PASSWORD not in done.stdout + done.stderr
    assert visitor.get("/dashboard").status_code == 303
    visitor.login(Person(customer.id, customer.name, NEW_PASSWORD))
    short = subprocess.run(
        [sys.executable, "-m", "opensmm.cli.main", "user", "password", customer.name,
         "--password-stdin"],
        input="short\n", capture_output=True, text=True, timeout=60,
        env=opensmm_env(panel.database_url), check=False,
    )
    assert short.returncode != 0
    assert "8 to 256" in short.stdout + short.stderr
    # The hidden prompt asks twice; a mismatch is asked again.
    prompted = subprocess.run(
        [sys.executable, "-m", "opensmm.cli.main", "user", "password", customer.name],
        input=f"{PASSWORD}\nsomething else\n{PASSWORD}\n{PASSWORD}\n", capture_output=True,
        text=True, timeout=60, env=opensmm_env(panel.database_url), check=False,
    )
    assert prompted.returncode == 0, prompted.stderr
    assert "do not match" in prompted.stdout + prompted.stderr
    assert PASSWORD not in prompted.stdout
    assert visitor.get("/dashboard").status_code == 303  # its session ended again
    visitor.http.cookies.clear()
    visitor.login(customer)
    with panel.db.read() as session:
        entries = session.scalars(select(AuditEntry).where(
            AuditEntry.action == "user.set_password",
            AuditEntry.target == f"user:{customer.id}")).all()
        assert [entry.door for entry in entries] == ["cli", "cli"]


# --- email verification ------------------------------------------------------------------
@pytest.fixture
def verification_required(panel: Panel) -> Iterator[None]:
    with panel.write() as session:
        panel_settings.set_value(session, "email_verification", "required", Actor.cli())
    yield
    with panel.write() as session:
        panel_settings.set_value(session, "email_verification", "off", Actor.cli())


def test_sign_up_mails_a_verification_link(panel: Panel, visitor: WebClient) -> None:
    name = "v" + os.urandom(5).hex()
    signed = visitor.post("/signup", {"name": name, "email": f"{name}@example.test",
                                      "password": PASSWORD, "password2": PASSWORD})
    assert signed.status_code == 303, signed.text[:300]
    [mail] = mails_to(panel, f"{name}@example.test", "email_verification")
    link = link_in(mail)
    confirm = visitor.get(link)
    assert confirm.status_code == 200
    assert f"{name}@example.test" in confirm.text
    token = link.split("token=")[1]
    verified = visitor.post("/email/verify", {"token": token})
    assert "is confirmed" in visitor.flash(verified)
    with panel.db.read() as session:
        user = session.scalars(select(User).where(User.name == name)).one()
        assert user.email_verified_at is not None
    again = visitor.post("/email/verify", {"token": token})
    assert "not valid" in visitor.flash(again)


def test_an_unverified_customer_cannot_order_when_verification_is_required(
    panel: Panel, visitor: WebClient, verification_required: None
) -> None:
    customer = make_person(panel, balance="10")
    api_customer = panel.customer(balance="10")
    service = panel.service(rate="1")
    visitor.login(customer)
    dashboard = visitor.get("/dashboard").text
    assert "verify-banner" in dashboard
    message = "Please confirm your email address before placing orders"
    refused = visitor.post("/order/new", {"service": service, "link": "https://x.test/a",
                                          "quantity": "100"})
    assert refused.status_code == 400
    assert message in refused.text
    assert message in panel.api(api_customer.key, "add", service=service,
                                link="https://x.test/a", quantity=100)["error"]
    mass = visitor.post("/order/mass", {"orders": f"{service} | https://x.test/b | 100"})
    assert message in mass.text
    # The banner's button mails a new link; following it lets the customer order.
    resent = visitor.post("/account/email/resend", {"back": "/dashboard"})
    assert "We have sent a new link" in visitor.flash(resent)
    [mail] = mails_to(panel, email_of(customer), "email_verification")
    token = link_in(mail).split("token=")[1]
    visitor.post("/email/verify", {"token": token})
    assert "verify-banner" not in visitor.get("/dashboard").text
    placed = visitor.post("/order/new", {"service": service, "link": "https://x.test/a",
                                         "quantity": "100"})
    assert placed.status_code == 303
    with panel.write() as session:  # the API customer, verified: orders through the API
        session.execute(update(User).where(User.id == api_customer.id)
                        .values(email_verified_at=utcnow()))
    assert "order" in panel.api(api_customer.key, "add", service=service,
                                link="https://x.test/c", quantity=100)


def test_verification_links_are_limited_per_account(
    panel: Panel, visitor: WebClient
) -> None:
    customer = make_person(panel)
    visitor.login(customer)
    answers = [visitor.flash(visitor.post("/account/email/resend")) for _ in range(6)]
    assert all("We have sent a new link" in a for a in answers[:5])
    assert "Too many links" in answers[5]


def test_changing_the_email_reverifies_it_and_tells_the_old_address(
    panel: Panel, visitor: WebClient
) -> None:
    customer, other = make_person(panel), make_person(panel)
    with panel.write() as session:
        session.execute(update(User).where(User.id == customer.id)
                        .values(email_verified_at=utcnow()))
    visitor.login(customer)
    new = f"new-{customer.name}@example.test"
    for fields, message in (
        ({"email": new, "password": "wrong password"}, "The current password is not correct"),
        ({"email": "not an email", "password": PASSWORD}, "does not look valid"),
        ({"email": email_of(other), "password": PASSWORD}, "already registered"),
        ({"email": email_of(customer), "password": PASSWORD}, "already your email"),
        ({"email": "x" * 10_000 + "@example.test", "password": PASSWORD}, "does not look valid"),
        ({"email": "a\x00b@example.test\r\nBcc: x@evil.test", "password": PASSWORD},
         "does not look valid"),
    ):
        refused = visitor.post("/account/email", fields)
        assert refused.status_code == 400, fields
        assert message in refused.text
    assert user_row(panel, customer.id).email == email_of(customer)
    changed = visitor.post("/account/email", {"email": new.upper(), "password": PASSWORD})
    assert "Your email address is now" in visitor.flash(changed)
    user = user_row(panel, customer.id)
    assert user.email == new
    assert user.email_verified_at is None
    [told] = mails_to(panel, email_of(customer), "email_changed")
    assert new in told.text_body
    [verify] = mails_to(panel, new, "email_verification")
    visitor.post("/email/verify", {"token": link_in(verify).split("token=")[1]})
    assert user_row(panel, customer.id).email_verified_at is not None


# --- staff → emails ----------------------------------------------------------------------
def test_staff_see_the_outbox_and_retry_a_failed_mail(
    panel: Panel, visitor: WebClient
) -> None:
    boss = make_person(panel, staff=True)
    customer = make_person(panel)
    visitor.post("/password/forgot", {"login": customer.name})
    [mail] = mails_to(panel, email_of(customer))
    with panel.write() as session:
        session.execute(update(MailOutbox).where(MailOutbox.id == mail.id).values(
            status=FAILED, attempts=8, last_error="550 <b>no</b> such mailbox"))
    visitor.login(boss)
    listing = visitor.get("/admin/emails")
    assert listing.status_code == 200
    assert 'href="/admin/emails"' in listing.text  # in the staff nav
    assert 'id="no-smtp"' in listing.text
    assert f'data-mail="{mail.id}"' in listing.text
    assert f'data-mail="{mail.id}"' in visitor.get("/admin/emails?status=failed").text
    assert f'data-mail="{mail.id}"' not in visitor.get("/admin/emails?status=sent").text
    assert visitor.get("/admin/emails?status=%00bogus").status_code == 200
    detail = visitor.get(f"/admin/emails/{mail.id}")
    assert detail.status_code == 200
    assert "&lt;b&gt;no&lt;/b&gt;" in detail.text
    assert "Retry now" in detail.text
    retried = visitor.post(f"/admin/emails/{mail.id}/retry")
    assert "will be sent again" in visitor.flash(retried)
    again = visitor.post(f"/admin/emails/{mail.id}/retry")
    assert "Only a failed mail can be retried" in visitor.flash(again)
    assert mails_to(panel, email_of(customer))[0].status == QUEUED
    with panel.db.read() as session:
        assert session.scalars(select(AuditEntry).where(
            AuditEntry.action == "mail.retry", AuditEntry.target == f"mail:{mail.id}")).one()
    for path in ("/admin/emails/0", "/admin/emails/99999999999999999999",
                 f"/admin/emails/{mail.id + 100000}"):
        assert visitor.get(path).status_code == 404


def test_one_reset_link_used_at_once_by_many_sets_the_password_once(panel: Panel) -> None:
    from concurrent.futures import ThreadPoolExecutor

    customer = make_person(panel)
    asker = WebClient(panel.url)
    clients = [WebClient(panel.url) for _ in range(8)]
    try:
        asker.post("/password/forgot", {"login": customer.name})
        [mail] = mails_to(panel, email_of(customer), "password_reset")
        token = link_in(mail).split("token=")[1]
        forms = [(client, client.token()) for client in clients]

        def use(pair: tuple[WebClient, str], n: int) -> str:
            client, csrf = pair
            answer = client.post("/password/reset", {
                "token": token, "password": f"{NEW_PASSWORD} {n}",
                "password2": f"{NEW_PASSWORD} {n}", "csrf": csrf})
            assert answer.status_code in (303, 400), answer.status_code
            return answer.headers.get("location", "")

        with ThreadPoolExecutor(len(forms)) as pool:
            places = list(pool.map(use, forms, range(len(forms))))
    finally:
        for client in (asker, *clients):
            client.close()
    assert places.count("/login") == 1, places
