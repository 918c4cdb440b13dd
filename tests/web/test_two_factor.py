"""Two-factor log-in over plain HTTP, against a running panel on both databases: enrolment
(QR code, secret, recovery codes shown once and stored hashed), the code step after the
password (a pending log-in opens nothing), wrong, old, reused and malformed codes, the
limit on guessing, recovery codes, turning it off, the staff-required setting, and the
resets by staff and from the command line."""

from __future__ import annotations

import hashlib
import html
import re
import time
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pyotp
import pytest
from sqlalchemy import delete, func, select, update

from opensmm.admin.pages import all_pages
from opensmm.audit.actor import Actor
from opensmm.audit.models import AuditEntry
from opensmm.db import utcnow
from opensmm.panel_settings import service as panel_settings
from opensmm.twofactor.models import LoginChallenge, RecoveryCode, TwoFactor
from opensmm.web.models import LoginAttempt
from tests.support.panel import Panel
from tests.web.support import Person, WebClient, make_person
from tests.web.test_i18n import latin_words, visible_text

SECRET = re.compile(r'id="totp-secret"[^>]*>([A-Z2-7 ]+)<')
CODES = re.compile(r"<li><code>([a-z0-9-]+)</code></li>")


@pytest.fixture(autouse=True)
def forget_attempts(panel: Panel) -> Iterator[None]:
    """Every visitor here is 127.0.0.1: the per-address limit must not carry from one
    test's deliberate failures into the next."""
    yield
    with panel.write() as session:
        session.execute(delete(LoginAttempt))


# --- helpers -------------------------------------------------------------------------------
def secret_of(page: str) -> str:
    match = SECRET.search(page)
    assert match, "no secret on the page"
    return match.group(1).replace(" ", "")


def code(secret: str, steps: int = 0) -> str:
    """The code an authenticator shows ``steps`` steps (30 s) from now."""
    return pyotp.TOTP(secret).at(time.time() + 30 * steps)


def not_a_valid_code(secret: str) -> str:
    valid = {code(secret, n) for n in (-2, -1, 0, 1, 2)}
    return next(c for c in ("000000", "111111", "222222", "333333", "444444", "555555",
                            "666666") if c not in valid)


def forget_last_step(panel: Panel, user_id: int) -> None:
    """Let the current code be accepted again (tests that need several fresh codes)."""
    with panel.write() as session:
        session.execute(update(TwoFactor).where(TwoFactor.user_id == user_id)
                        .values(last_step=None))


def enrol(client: WebClient) -> tuple[str, list[str]]:
    """Set up 2FA from the account page as a person would: the secret read off the page,
    the code computed from it, the recovery codes read off the answer."""
    assert client.post("/account/2fa/start").status_code == 303
    page = client.get("/account/2fa")
    assert page.status_code == 200
    secret = secret_of(page.text)
    confirmed = client.post("/account/2fa/confirm", {"code": code(secret)})
    assert confirmed.status_code == 200, confirmed.text[:500]
    codes = CODES.findall(confirmed.text)
    assert len(codes) == 10
    return secret, codes


def enrolled_person(panel: Panel, *, staff: bool = False) -> tuple[Person, str, list[str]]:
    person = make_person(panel, staff=staff)
    client = WebClient(panel.url)
    try:
        client.login(person)
        secret, codes = enrol(client)
    finally:
        client.close()
    forget_last_step(panel, person.id)
    return person, secret, codes


def password_step(client: WebClient, person: Person) -> httpx.Response:
    answer = client.post("/login", {"login": person.name, "password": person.password})
    assert answer.status_code == 303, answer.text[:300]
    assert answer.headers["location"] == "/login/code"
    assert "opensmm_session" not in answer.cookies
    return answer


def audit_rows(panel: Panel, action: str, user_id: int) -> list[AuditEntry]:
    with panel.db.read() as session:
        return list(session.scalars(select(AuditEntry).where(
            AuditEntry.action == action, AuditEntry.target == f"user:{user_id}")))


# --- enrolment ------------------------------------------------------------------------------
def test_enrolment_shows_a_qr_code_and_the_secret_then_the_codes_once(
    panel: Panel, visitor: WebClient
) -> None:
    person = make_person(panel)
    visitor.login(person)
    off = visitor.get("/account/2fa")
    assert off.status_code == 200 and 'id="start-form"' in off.text
    assert 'href="/account/2fa"' in visitor.get("/account/password").text
    visitor.post("/account/2fa/start")
    pending = visitor.get("/account/2fa").text
    # Drawn inline by the server: an <svg> element, no <img>, nothing from elsewhere, no
    # style attribute the Content-Security-Policy would block.
    figure = re.search(r'<figure class="qr"[^>]*>(.*?)</figure>', pending, re.S)
    assert figure and figure.group(1).startswith("<svg")
    assert "style=" not in figure.group(1) and "<img" not in pending
    secret = secret_of(pending)
    assert len(secret) == 32
    with panel.db.read() as session:
        row = session.get(TwoFactor, person.id)
        assert row is not None and row.confirmed_at is None
        assert row.secret_encrypted.startswith("v1:") and secret not in row.secret_encrypted

    codes = CODES.findall(visitor.post("/account/2fa/confirm", {"code": code(secret)}).text)
    assert len(set(codes)) == 10
    again = visitor.get("/account/2fa").text
    assert not CODES.findall(again) and codes[0] not in again  # shown once
    assert "10 recovery codes left." in again
    with panel.db.read() as session:
        stored = set(session.scalars(select(RecoveryCode.code_hash)
                                     .where(RecoveryCode.user_id == person.id)))
    assert stored == {hashlib.sha256(c.replace("-", "").encode()).hexdigest() for c in codes}
    assert [e.door for e in audit_rows(panel, "2fa.enable", person.id)] == ["web"]


def test_a_wrong_enrolment_code_leaves_it_off(panel: Panel, visitor: WebClient) -> None:
    person = make_person(panel)
    visitor.login(person)
    visitor.post("/account/2fa/start")
    secret = secret_of(visitor.get("/account/2fa").text)
    for typed in (not_a_valid_code(secret), code(secret, -5), "\x00" * 3, "x" * 5000,
                  "<script>alert(1)</script>"):
        wrong = visitor.post("/account/2fa/confirm", {"code": typed})
        assert wrong.status_code == 400, typed[:20]
        assert "<script>alert" not in wrong.text
    # Five wrong codes: the limit holds even the right one back.
    assert visitor.post("/account/2fa/confirm", {"code": code(secret)}).status_code == 429
    with panel.db.read() as session:
        row = session.get(TwoFactor, person.id)
        assert row is not None and row.confirmed_at is None
    with panel.write() as session:
        session.execute(delete(LoginAttempt))
    # Confirming with nothing waiting, or starting twice once on, is a clear refusal.
    visitor.post("/account/2fa/cancel")
    assert visitor.post("/account/2fa/confirm", {"code": "123456"}).status_code == 400


# --- the code step --------------------------------------------------------------------------
def test_the_pending_log_in_opens_no_page_until_the_code(
    panel: Panel, visitor: WebClient
) -> None:
    person, secret, _ = enrolled_person(panel, staff=True)
    password_step(visitor, person)
    form = visitor.get("/login/code")
    assert form.status_code == 200 and 'name="code"' in form.text
    for path in ("/dashboard", "/admin", "/account/2fa", "/account/keys", "/admin/users"):
        refused = visitor.get(path)
        assert refused.status_code == 303 and refused.headers["location"].startswith("/login")
    posted = visitor.post("/account/keys", {"label": "sneaky"})
    assert posted.status_code == 303 and posted.headers["location"] == "/login"
    assert visitor.post("/admin/settings", {"name": "panel_name", "value": "x"}
                        ).headers["location"] == "/login"
    done = visitor.post("/login/code", {"code": code(secret)})
    assert done.status_code == 303 and done.headers["location"] == "/admin"
    assert "opensmm_session" in done.cookies
    assert visitor.get("/admin").status_code == 200
    with panel.db.read() as session:  # the challenge is gone with its use
        assert session.scalar(select(func.count()).select_from(LoginChallenge)
                              .where(LoginChallenge.user_id == person.id)) == 0


def test_the_next_page_survives_the_code_step(panel: Panel, visitor: WebClient) -> None:
    person, secret, _ = enrolled_person(panel)
    visitor.post("/login", {"login": person.name, "password": person.password,
                            "next": "/funds"})
    done = visitor.post("/login/code", {"code": code(secret)})
    assert done.headers["location"] == "/funds"


def test_wrong_old_reused_and_malformed_codes_are_refused(
    panel: Panel, visitor: WebClient
) -> None:
    person, secret, _ = enrolled_person(panel)
    password_step(visitor, person)
    for typed in (not_a_valid_code(secret), code(secret, -4), ""):
        wrong = visitor.post("/login/code", {"code": typed})
        assert wrong.status_code == 400
        assert "That code is not right, or was already used." in wrong.text
        assert "opensmm_session" not in wrong.cookies
    forget = visitor.post("/login/code", {"code": "\x00\x01", "extra": "y" * 10})
    assert forget.status_code == 400
    # Typed with an Arabic keyboard's digits, the right code is the right code.
    arabic = code(secret).translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    used = code(secret)
    assert visitor.post("/login/code", {"code": arabic}).status_code == 303
    visitor.post("/logout")
    # The same code again (its window is still open): refused.
    other = WebClient(panel.url)
    try:
        password_step(other, person)
        replay = other.post("/login/code", {"code": used})
        assert replay.status_code == 400
        assert other.get("/dashboard").status_code == 303
    finally:
        other.close()


def test_huge_and_odd_forms_never_answer_500(panel: Panel, visitor: WebClient) -> None:
    person, _, _ = enrolled_person(panel)
    password_step(visitor, person)
    for data in ({"code": "9" * 100_000}, {"code": "１２３４５６"}, {"code": "12345\u200f6"},
                 {}, {"code": ["1", "2"]}):
        answer = visitor.http.post("/login/code", data={"csrf": visitor.token(), **data})
        assert answer.status_code in (400, 429), answer.status_code
    no_token = visitor.http.post("/login/code", data={"code": "123456"})
    assert no_token.status_code == 403


def test_an_unknown_or_expired_challenge_goes_back_to_the_log_in(
    panel: Panel, visitor: WebClient
) -> None:
    person, secret, _ = enrolled_person(panel)
    visitor.http.cookies.set("opensmm_2fa", "forged-token")
    forged = visitor.post("/login/code", {"code": code(secret)})
    assert forged.status_code == 303 and forged.headers["location"] == "/login"
    assert visitor.get("/login/code").headers["location"] == "/login"
    password_step(visitor, person)
    with panel.write() as session:
        session.execute(update(LoginChallenge).where(LoginChallenge.user_id == person.id)
                        .values(expires_at=utcnow() - timedelta(seconds=1)))
    expired = visitor.post("/login/code", {"code": code(secret)})
    assert expired.headers["location"] == "/login"
    assert "expired" in visitor.get("/login").text
    assert visitor.get("/dashboard").status_code == 303


def test_a_recovery_code_works_once(panel: Panel, visitor: WebClient) -> None:
    person, _, codes = enrolled_person(panel)
    password_step(visitor, person)
    typed = " " + codes[3].upper().replace("-", " ") + " "  # as read aloud, spaced
    done = visitor.post("/login/code", {"code": typed})
    assert done.status_code == 303
    assert "9 are left" in visitor.flash(done)
    visitor.post("/logout")
    password_step(visitor, person)
    again = visitor.post("/login/code", {"code": codes[3]})
    assert again.status_code == 400
    assert visitor.post("/login/code", {"code": codes[4]}).status_code == 303
    assert "8 recovery codes left." in visitor.get("/account/2fa").text


def test_guessing_codes_hits_the_limit_and_the_password_does_not_reset_it(
    panel: Panel, visitor: WebClient
) -> None:
    person, secret, codes = enrolled_person(panel)
    password_step(visitor, person)
    wrong = not_a_valid_code(secret)
    for _ in range(5):
        assert visitor.post("/login/code", {"code": wrong}).status_code == 400
    blocked = visitor.post("/login/code", {"code": code(secret)})
    assert blocked.status_code == 429
    assert "Too many wrong codes" in blocked.text
    assert visitor.post("/login/code", {"code": codes[0]}).status_code == 429
    # A right password starts a new challenge, but the codes' count goes on.
    password_step(visitor, person)
    assert visitor.post("/login/code", {"code": code(secret)}).status_code == 429
    assert "opensmm_session" not in visitor.http.cookies


# --- on the account page ------------------------------------------------------------------
def test_turning_it_off_needs_the_password_and_a_current_code(
    panel: Panel, visitor: WebClient
) -> None:
    person = make_person(panel)
    visitor.login(person)
    secret, _ = enrol(visitor)
    forget_last_step(panel, person.id)
    no_password = visitor.post("/account/2fa/disable", {"password": "not it at all",
                                                         "code": code(secret)})
    assert no_password.status_code == 400
    assert "The current password is not correct" in no_password.text
    no_code = visitor.post("/account/2fa/disable", {"password": person.password,
                                                     "code": not_a_valid_code(secret)})
    assert no_code.status_code == 400
    assert 'id="disable-form"' in no_code.text  # still on
    off = visitor.post("/account/2fa/disable", {"password": person.password,
                                                "code": code(secret)})
    assert off.status_code == 303
    assert "Two-factor log-in is off." in visitor.flash(off)
    assert audit_rows(panel, "2fa.disable", person.id)
    visitor.post("/logout")
    assert visitor.login(person).headers["location"] == "/dashboard"  # the password alone


def test_new_recovery_codes_replace_the_old_ones(panel: Panel, visitor: WebClient) -> None:
    person = make_person(panel)
    visitor.login(person)
    secret, old = enrol(visitor)
    forget_last_step(panel, person.id)
    refused = visitor.post("/account/2fa/recovery-codes", {"code": old[0]})
    assert refused.status_code == 400  # a recovery code does not make new ones
    renewed = visitor.post("/account/2fa/recovery-codes", {"code": code(secret)})
    assert renewed.status_code == 200
    new = CODES.findall(renewed.text)
    assert len(new) == 10 and not set(new) & set(old)
    assert audit_rows(panel, "2fa.recovery_codes", person.id)
    other = WebClient(panel.url)
    try:
        password_step(other, person)
        assert other.post("/login/code", {"code": old[1]}).status_code == 400
        assert other.post("/login/code", {"code": new[1]}).status_code == 303
    finally:
        other.close()


# --- staff ----------------------------------------------------------------------------------
def set_required(panel: Panel, value: str) -> None:
    with panel.write() as session:
        panel_settings.set_value(session, "staff_2fa_required", value, Actor.cli())


def test_when_required_staff_enrol_before_any_staff_page(
    panel: Panel, visitor: WebClient, other_visitor: WebClient
) -> None:
    boss, customer = make_person(panel, staff=True), make_person(panel)
    set_required(panel, "on")
    try:
        visitor.login(boss)
        # Every staff page, GET and POST, whatever it is: the framework admits none.
        specs = [spec for pages in all_pages() for spec in pages.specs]
        assert len(specs) >= 20
        for spec in specs:
            path = re.sub(r"\{[a-z_]+:int\}", str(customer.id), spec.path)
            sent = (visitor.get(path) if "GET" in spec.methods else visitor.post(path))
            assert sent.status_code == 303, path
            assert sent.headers["location"] == "/account/2fa", path
        posted = visitor.post("/admin/settings", {"name": "panel_name", "value": "Hijacked"})
        assert posted.headers["location"] == "/account/2fa"
        with panel.db.read() as session:
            assert panel_settings.panel_name(session) != "Hijacked"
        page = visitor.get("/account/2fa")
        assert "requires two-factor log-in for staff" in page.text
        other_visitor.login(customer)  # customers are not asked
        assert other_visitor.get("/dashboard").status_code == 200
        secret, _ = enrol(visitor)
        assert visitor.get("/admin").status_code == 200
        forget_last_step(panel, boss.id)
        refused = visitor.post("/account/2fa/disable", {"password": boss.password,
                                                        "code": code(secret)})
        assert refused.status_code == 400
        assert "cannot be turned off" in refused.text
        assert visitor.get("/admin").status_code == 200
    finally:
        set_required(panel, "off")
    assert visitor.get("/admin").status_code == 200


def test_staff_reset_a_users_two_factor_from_their_page(
    panel: Panel, visitor: WebClient, other_visitor: WebClient
) -> None:
    person, _, _ = enrolled_person(panel)
    boss = make_person(panel, staff=True)
    visitor.login(boss)
    page = visitor.get(f"/admin/users/{person.id}").text
    assert 'id="reset-2fa-form"' in page
    other_visitor.login(make_person(panel))
    assert other_visitor.post(f"/admin/users/{person.id}/reset-2fa").status_code == 403
    reset = visitor.post(f"/admin/users/{person.id}/reset-2fa")
    assert reset.status_code == 303
    assert "is reset" in visitor.flash(reset)
    [row] = audit_rows(panel, "user.reset_2fa", person.id)
    assert (row.actor, row.door) == (boss.name, "web")
    assert 'id="reset-2fa-form"' not in visitor.get(f"/admin/users/{person.id}").text
    assert other_visitor.post("/admin/users/99999999999/reset-2fa").status_code == 404
    fresh = WebClient(panel.url)
    try:
        assert fresh.login(person).headers["location"] == "/dashboard"
    finally:
        fresh.close()


def test_the_command_line_resets_a_locked_out_user(panel: Panel, visitor: WebClient) -> None:
    person, _, _ = enrolled_person(panel)
    done = panel.cli("user", "reset-2fa", person.name)
    assert "reset" in done.stdout
    [row] = audit_rows(panel, "user.reset_2fa", person.id)
    assert row.door == "cli" and row.params["was_on"] is True
    assert visitor.login(person).headers["location"] == "/dashboard"
    again = panel.cli("user", "reset-2fa", person.name)
    assert "nothing to reset" in again.stdout
    unknown = panel.cli("user", "reset-2fa", "nobody-" + person.name, check=False)
    assert unknown.returncode == 1
    assert "error:" in unknown.stderr and "Traceback" not in unknown.stderr


# --- Arabic ---------------------------------------------------------------------------------
def test_the_two_factor_pages_speak_arabic(panel: Panel) -> None:
    person = make_person(panel)
    boss = make_person(panel, staff=True)
    client = WebClient(panel.url, **{"Accept-Language": "ar"})
    desk = WebClient(panel.url, **{"Accept-Language": "ar"})
    shown: dict[str, str] = {}
    data = [person.name, boss.name, f"{person.name}@example.test", f"{boss.name}@example.test"]
    try:
        client.login(person)
        shown["off"] = client.get("/account/2fa").text
        shown["password"] = client.get("/account/password").text
        client.post("/account/2fa/start")
        shown["pending"] = client.get("/account/2fa").text
        secret = secret_of(shown["pending"])
        data.append(html.unescape(re.search(r'id="totp-secret"[^>]*>([^<]+)<',
                                            shown["pending"]).group(1)))  # type: ignore[union-attr]
        shown["wrong"] = client.post("/account/2fa/confirm", {"code": "x"}).text
        confirmed = client.post("/account/2fa/confirm", {"code": code(secret)})
        shown["codes"] = confirmed.text
        codes = CODES.findall(confirmed.text)
        data += codes
        shown["on"] = client.get("/account/2fa").text
        client.post("/logout")
        password_step(client, person)
        shown["code step"] = client.get("/login/code").text
        shown["wrong code"] = client.post("/login/code", {"code": "000"}).text
        shown["recovered"] = client.flash(client.post("/login/code", {"code": codes[0]}))
        desk.login(boss)
        shown["staff user"] = desk.get(f"/admin/users/{person.id}").text
        shown["staff reset"] = desk.flash(desk.post(f"/admin/users/{person.id}/reset-2fa"))
    finally:
        client.close()
        desk.close()
    assert all('<html lang="ar" dir="rtl">' in page for page in shown.values())
    english = {where: words for where, page in shown.items()
               if (words := latin_words(visible_text(page), data))}
    assert not english, english
