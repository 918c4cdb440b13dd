"""The two-factor service on both databases, and the sealing it shares with payments: code
windows, replay, recovery codes spent once (also by two sessions at once), the secret
encrypted under its own purpose, a changed panel secret, hostile input."""

from __future__ import annotations

import threading
import time

import pyotp
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from opensmm.accounts import service as accounts
from opensmm.db import Database
from opensmm.payments import secrets as payment_secrets
from opensmm.security import secrets as sealed
from opensmm.twofactor import service as twofactor
from opensmm.twofactor.models import RecoveryCode, TwoFactor

PANEL_SECRET = "a-panel-secret-of-at-least-32-characters!!"
OTHER_SECRET = "another-panel-secret-also-32-characters-long"


def enrolled(db: Database, name: str = "alice") -> tuple[int, str, list[str]]:
    with db.write() as session:
        user = accounts.create_user(session, name, password="a long passphrase")
        secret = twofactor.start_enrolment(session, user, PANEL_SECRET)
        codes = twofactor.confirm_enrolment(
            session, user, pyotp.TOTP(secret).now(), PANEL_SECRET
        )
        assert codes is not None
        # The tests below want the current code to be new again.
        row = session.get(TwoFactor, user.id)
        assert row is not None
        row.last_step = None
        return user.id, secret, codes


def check(db: Database, user_id: int, typed: str, secret: str = PANEL_SECRET,
          *, recovery: bool = True) -> str | None:
    with db.write() as session:
        return twofactor.check_code(session, user_id, typed, secret, recovery=recovery)


# --- codes without a database ----------------------------------------------------------------
def test_the_window_is_one_step_either_side_and_only_forward() -> None:
    secret = pyotp.random_base32()
    totp = pyotp.TOTP(secret)
    now = 1_800_000_015.0
    step = totp.timecode(now)
    assert twofactor.matching_step(secret, totp.at(now), None, now) == step
    assert twofactor.matching_step(secret, totp.at(now - 30), None, now) == step - 1
    assert twofactor.matching_step(secret, totp.at(now + 30), None, now) == step + 1
    assert twofactor.matching_step(secret, totp.at(now - 60), None, now) is None
    assert twofactor.matching_step(secret, totp.at(now + 60), None, now) is None
    # The last accepted step and those before it are spent.
    assert twofactor.matching_step(secret, totp.at(now), step, now) is None
    assert twofactor.matching_step(secret, totp.at(now - 30), step - 1, now) is None
    assert twofactor.matching_step(secret, totp.at(now + 30), step, now) == step + 1


@pytest.mark.parametrize(("typed", "normal"), [
    ("123 456", "123456"), ("١٢٣٤٥٦", "123456"), ("۱۲۳۴۵۶", "123456"),
    ("ABCD-efgh-2345-6789", "abcdefgh23456789"), ("12\x0034", ""), ("x" * 65, ""),
    ("<b>", ""), ("", ""), ("１２３", "123"),
])
def test_normalize(typed: str, normal: str) -> None:
    assert twofactor.normalize(typed) == normal


@given(st.text(max_size=80))
def test_any_text_is_a_code_or_nothing(typed: str) -> None:
    normal = twofactor.normalize(typed)
    assert normal == "" or (normal.isascii() and normal.isalnum() and normal.lower() == normal)


def test_recovery_codes_are_long_random_and_unambiguous() -> None:
    codes = {twofactor.new_recovery_code() for _ in range(200)}
    assert len(codes) == 200
    for code in codes:
        plain = code.replace("-", "")
        assert len(plain) == 16 and set(plain) <= set(twofactor.RECOVERY_ALPHABET)
        assert not set(plain) & set("01ilo")


def test_the_qr_code_is_an_inline_svg_without_style() -> None:
    uri = twofactor.provisioning_uri(pyotp.random_base32(), "alice", "Acme <SMM>")
    assert uri.startswith("otpauth://totp/") and "issuer=Acme" in uri
    svg = twofactor.qr_svg(uri)
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert "style" not in svg and "<script" not in svg and "href" not in svg


# --- the shared sealing --------------------------------------------------------------------------
def test_each_purpose_has_its_own_key() -> None:
    stored = sealed.encrypt("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", PANEL_SECRET, twofactor.PURPOSE)
    assert sealed.decrypt(stored, PANEL_SECRET, twofactor.PURPOSE).startswith("JBSW")
    with pytest.raises(sealed.SecretError):
        payment_secrets.decrypt(stored, PANEL_SECRET)
    credential = payment_secrets.encrypt("sk_live_abcdefghijklmnop", PANEL_SECRET)
    with pytest.raises(sealed.SecretError):
        sealed.decrypt(credential, PANEL_SECRET, twofactor.PURPOSE)
    assert payment_secrets.SecretError is sealed.SecretError
    assert "JBSW" not in repr(twofactor.PURPOSE)


# --- on the databases ----------------------------------------------------------------------------
def test_enrolment_stores_the_secret_encrypted_and_the_codes_hashed(db: Database) -> None:
    user_id, secret, codes = enrolled(db)
    with db.read() as session:
        row = session.get(TwoFactor, user_id)
        assert row is not None and row.confirmed_at is not None
        assert secret not in row.secret_encrypted
        hashes = set(session.scalars(select(RecoveryCode.code_hash)))
        assert twofactor.is_enabled(session, user_id)
        assert twofactor.recovery_codes_left(session, user_id) == 10
    assert hashes == {twofactor.hash_code(c) for c in codes}
    assert not any(c.replace("-", "") in "".join(hashes) for c in codes)


def test_a_code_passes_once(db: Database) -> None:
    user_id, secret, _ = enrolled(db)
    now = pyotp.TOTP(secret).now()
    assert check(db, user_id, now) == twofactor.CODE_TOTP
    assert check(db, user_id, now) is None  # replayed within its window
    assert check(db, user_id, pyotp.TOTP(secret).at(time.time() - 30)) is None  # older
    assert check(db, user_id, pyotp.TOTP(secret).at(time.time() + 30)) == twofactor.CODE_TOTP


def test_a_recovery_code_passes_once_and_only_where_allowed(db: Database) -> None:
    user_id, _, codes = enrolled(db)
    assert check(db, user_id, codes[0], recovery=False) is None
    assert check(db, user_id, codes[0].upper()) == twofactor.CODE_RECOVERY
    assert check(db, user_id, codes[0]) is None
    with db.read() as session:
        assert twofactor.recovery_codes_left(session, user_id) == 9
    other_id, _, other_codes = enrolled(db, "bob")
    assert check(db, user_id, other_codes[0]) is None  # another account's code
    assert check(db, other_id, other_codes[0]) == twofactor.CODE_RECOVERY


def test_two_sessions_with_one_code_let_one_through(db: Database) -> None:
    user_id, secret, codes = enrolled(db)
    for typed in (pyotp.TOTP(secret).now(), codes[1]):
        results: list[str | None] = []
        barrier = threading.Barrier(4)

        def attempt(code: str = typed, out: list[str | None] = results,
                    start: threading.Barrier = barrier) -> None:
            start.wait()
            out.append(check(db, user_id, code))

        threads = [threading.Thread(target=attempt) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(results) == 4
        assert sum(r is not None for r in results) == 1


def test_a_changed_panel_secret_stops_totp_but_not_recovery(db: Database) -> None:
    user_id, secret, codes = enrolled(db)
    assert check(db, user_id, pyotp.TOTP(secret).now(), OTHER_SECRET) is None
    assert check(db, user_id, codes[2], OTHER_SECRET) == twofactor.CODE_RECOVERY


def test_codes_for_an_account_without_two_factor_never_pass(db: Database) -> None:
    with db.write() as session:
        user = accounts.create_user(session, "carol", password="a long passphrase")
        user_id = user.id
        secret = twofactor.start_enrolment(session, user, PANEL_SECRET)
    # Enrolling but not confirmed: the log-in does not take codes yet.
    assert check(db, user_id, pyotp.TOTP(secret).now()) is None
    with db.write() as session:
        assert twofactor.disable(session, user_id)
        assert not twofactor.disable(session, user_id)
    assert check(db, user_id, "123456") is None


def test_starting_again_replaces_the_waiting_secret_but_not_a_confirmed_one(
    db: Database
) -> None:
    user_id, _, _ = enrolled(db)
    with db.write() as session:
        user = accounts.get_user_by_id(session, user_id)
        with pytest.raises(twofactor.AlreadyEnabled):
            twofactor.start_enrolment(session, user, PANEL_SECRET)
        other = accounts.create_user(session, "dave", password="a long passphrase")
        first = twofactor.start_enrolment(session, other, PANEL_SECRET)
        second = twofactor.start_enrolment(session, other, PANEL_SECRET)
        assert first != second
        assert twofactor.pending_secret(session, other.id, PANEL_SECRET) == second
        assert twofactor.confirm_enrolment(
            session, other, pyotp.TOTP(first).now(), PANEL_SECRET) is None
        twofactor.cancel_enrolment(session, other.id)
        with pytest.raises(twofactor.NoEnrolment):
            twofactor.confirm_enrolment(session, other, "123456", PANEL_SECRET)
