"""Two-factor log-in: enrolment, checking codes, recovery codes, log-ins awaiting a code.

- The TOTP secret (RFC 6238: six digits, 30-second steps, SHA-1, what every authenticator
  app speaks) is kept encrypted at rest under the panel's secret (``opensmm.security.
  secrets``, its own purpose label). A code is accepted for the current step and one step
  either side (clocks drift), and only for a step later than the last accepted one: a code
  cannot be used twice, whichever form it is typed into.
- Ten recovery codes, each usable once, shown once, stored hashed.
- Every code check of an account, at log-in and on the account page, goes through the
  log-in limit (``opensmm.web.sessions.reserve_attempt``) under the account's own 2FA key,
  apart from the password's: a right password must not forgive wrong codes.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
import unicodedata
from datetime import timedelta

import pyotp
import segno
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from opensmm.accounts.models import User
from opensmm.db import utcnow
from opensmm.errors import DomainError
from opensmm.i18n import N_
from opensmm.security import secrets as sealed
from opensmm.twofactor.models import LoginChallenge, RecoveryCode, TwoFactor

log = logging.getLogger("opensmm.twofactor")

PURPOSE = sealed.Purpose(salt=b"opensmm/twofactor/totp", info=b"two-factor TOTP secret v1")
STEP_SECONDS = 30
DIGITS = 6
# Steps either side of now that are still accepted (a phone's clock a little off).
DRIFT_STEPS = 1
RECOVERY_CODE_COUNT = 10
# Recovery codes: 16 characters of an alphabet without look-alikes (no 0/o, 1/l/i): about
# 79 random bits each, shown as four groups of four.
RECOVERY_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
RECOVERY_LENGTH = 16
MAX_CODE_INPUT = 64
CHALLENGE_LIFETIME = timedelta(minutes=5)


class AlreadyEnabled(DomainError):
    message = N_("Two-factor log-in is already on.")


class NotEnabled(DomainError):
    message = N_("Two-factor log-in is not on.")


class NoEnrolment(DomainError):
    message = N_("Start the set-up again: no authenticator is waiting to be confirmed.")


def attempt_key(user_id: int) -> str:
    """The log-in limit's key for this account's codes (``+`` and ``#`` are in no name)."""
    return f"+2fa#{user_id}"


# --- codes -------------------------------------------------------------------------------------
def normalize(raw: str) -> str:
    """A typed code as compared: any script's digits as ASCII (an Arabic keyboard types
    ٠١٢…), without spaces and dashes, lower case; "" when it cannot be a code."""
    if not isinstance(raw, str) or len(raw) > MAX_CODE_INPUT:
        return ""
    out = []
    for ch in raw:
        if ch in " -\t\u00a0":
            continue
        if ch.isdecimal():
            out.append(str(unicodedata.decimal(ch)))
        elif ch.isascii() and ch.isalnum():
            out.append(ch.lower())
        else:
            return ""
    return "".join(out)


def hash_code(code: str) -> str:
    """A recovery code's stored form: SHA-256 of the normalized code.

    Why a fast hash and not argon2 like passwords: a recovery code is ~79 random bits from
    ``secrets``, not a person's choice, so there is no dictionary to try and a brute force
    of a leaked hash is out of reach whatever the hash's speed (the same rule as API keys
    and session tokens). A fast hash also lets the check look the code up by its hash in one
    indexed query, instead of running ten slow hashes per guess (a cheap way to burn the
    server's CPU)."""
    return hashlib.sha256(normalize(code).encode("ascii")).hexdigest()


def new_recovery_code() -> str:
    raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_LENGTH))
    return "-".join(raw[i : i + 4] for i in range(0, RECOVERY_LENGTH, 4))


def is_totp_shaped(code: str) -> bool:
    return len(code) == DIGITS and code.isdigit()


def matching_step(secret: str, code: str, after: int | None, now: float | None = None
                  ) -> int | None:
    """The latest time step within the drift whose code is ``code`` and that is later
    than ``after`` (the last accepted step); None when there is none."""
    if not is_totp_shaped(code):
        return None
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)
    current = totp.timecode(time.time() if now is None else now)
    for step in range(current + DRIFT_STEPS, current - DRIFT_STEPS - 1, -1):
        if after is not None and step <= after:
            break
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


# --- the secret --------------------------------------------------------------------------------
def _decrypt(row: TwoFactor, panel_secret: str) -> str | None:
    try:
        return sealed.decrypt(row.secret_encrypted, panel_secret, PURPOSE)
    except sealed.SecretError:
        # The panel's secret changed: TOTP codes cannot be checked; recovery codes still
        # work, and staff can reset the account's 2FA (docs/security.md).
        log.warning("the TOTP secret of user %s cannot be decrypted", row.user_id)
        return None


def provisioning_uri(secret: str, account: str, issuer: str) -> str:
    """The ``otpauth://`` URI the QR code holds."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(
        name=account, issuer_name=issuer
    )


def qr_svg(uri: str) -> str:
    """The QR code as an inline ``<svg>`` element (drawn here, no image service): only
    presentation attributes, no ``style``, so the pages' Content-Security-Policy lets it
    be drawn; a white quiet zone so that it scans on a dark page too."""
    return str(
        segno.make(uri, error="m").svg_inline(
            scale=5, dark="#000", light="#fff", svgclass="qr-code", lineclass=None,
            omitsize=False,
        )
    )


def grouped(secret: str) -> str:
    """The secret as typed into an app by hand: groups of four."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


# --- state -------------------------------------------------------------------------------------
def row_of(session: Session, user_id: int) -> TwoFactor | None:
    return session.get(TwoFactor, user_id)


def is_enabled(session: Session, user_id: int) -> bool:
    return session.scalar(
        select(TwoFactor.user_id).where(
            TwoFactor.user_id == user_id, TwoFactor.confirmed_at.is_not(None)
        )
    ) is not None


def recovery_codes_left(session: Session, user_id: int) -> int:
    return int(session.scalar(
        select(func.count()).select_from(RecoveryCode).where(
            RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None)
        )
    ) or 0)


# --- enrolment ---------------------------------------------------------------------------------
def start_enrolment(session: Session, user: User, panel_secret: str) -> str:
    """A new secret waiting to be confirmed (replacing any earlier unconfirmed one)."""
    row = row_of(session, user.id)
    if row is not None and row.confirmed_at is not None:
        raise AlreadyEnabled()
    secret = pyotp.random_base32()
    stored = sealed.encrypt(secret, panel_secret, PURPOSE)
    if row is None:
        session.add(TwoFactor(user_id=user.id, secret_encrypted=stored, created_at=utcnow()))
    else:
        row.secret_encrypted, row.last_step, row.created_at = stored, None, utcnow()
    session.flush()
    return secret


def pending_secret(session: Session, user_id: int, panel_secret: str) -> str | None:
    row = row_of(session, user_id)
    if row is None or row.confirmed_at is not None:
        return None
    return _decrypt(row, panel_secret)


def cancel_enrolment(session: Session, user_id: int) -> None:
    session.execute(
        delete(TwoFactor).where(TwoFactor.user_id == user_id, TwoFactor.confirmed_at.is_(None))
    )


def confirm_enrolment(session: Session, user: User, code: str, panel_secret: str
                      ) -> list[str] | None:
    """Turn 2FA on when ``code`` is right for the waiting secret: the recovery codes (to
    show once), or None for a wrong code (nothing changes)."""
    row = row_of(session, user.id)
    if row is not None and row.confirmed_at is not None:
        raise AlreadyEnabled()
    secret = pending_secret(session, user.id, panel_secret)
    if row is None or secret is None:
        raise NoEnrolment()
    step = matching_step(secret, normalize(code), None)
    if step is None:
        return None
    row.confirmed_at, row.last_step = utcnow(), step
    session.execute(delete(LoginChallenge).where(LoginChallenge.user_id == user.id))
    return new_recovery_codes(session, user.id)


def new_recovery_codes(session: Session, user_id: int) -> list[str]:
    """Ten new codes; the earlier ones stop working."""
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    codes = [new_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
    now = utcnow()
    session.add_all(
        RecoveryCode(user_id=user_id, code_hash=hash_code(code), created_at=now)
        for code in codes
    )
    session.flush()
    return codes


def disable(session: Session, user_id: int) -> bool:
    """Turn 2FA off (the secret, the recovery codes and waiting log-ins go); whether it
    was on or being set up."""
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    session.execute(delete(LoginChallenge).where(LoginChallenge.user_id == user_id))
    gone = session.execute(delete(TwoFactor).where(TwoFactor.user_id == user_id))
    return bool(getattr(gone, "rowcount", 0))


# --- checking a code ---------------------------------------------------------------------------
CODE_TOTP = "totp"
CODE_RECOVERY = "recovery"


def check_code(session: Session, user_id: int, typed: str, panel_secret: str,
               *, recovery: bool = True) -> str | None:
    """Spend a code of an account with 2FA on: ``"totp"`` or ``"recovery"`` for the kind
    accepted, None when it is wrong, old, already used, or 2FA is off.

    Spending is one atomic statement each (the TOTP step moves forward only if it is
    later than the last; a recovery code is marked used only if it was not), so two
    requests with one code cannot both pass, on SQLite or PostgreSQL."""
    code = normalize(typed)
    if not code:
        return None
    row = row_of(session, user_id)
    if row is None or row.confirmed_at is None:
        return None
    if is_totp_shaped(code):
        secret = _decrypt(row, panel_secret)
        step = matching_step(secret, code, row.last_step) if secret else None
        if step is None:
            return None
        moved = session.execute(
            update(TwoFactor)
            .where(TwoFactor.user_id == user_id)
            .where((TwoFactor.last_step.is_(None)) | (TwoFactor.last_step < step))
            .values(last_step=step)
            .execution_options(synchronize_session=False)
        )
        if not getattr(moved, "rowcount", 0):
            return None
        session.expire(row)
        return CODE_TOTP
    if not recovery or len(code) != RECOVERY_LENGTH:
        return None
    used = session.execute(
        update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user_id,
            RecoveryCode.code_hash == hash_code(code),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return CODE_RECOVERY if getattr(used, "rowcount", 0) else None


# --- log-ins awaiting their code ---------------------------------------------------------------
def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def start_challenge(session: Session, user_id: int, next_path: str) -> str:
    """After a right password: the token of the cookie that lets its holder type a code
    (for a few minutes); it opens nothing else."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session.execute(delete(LoginChallenge).where(LoginChallenge.expires_at < now))
    session.add(LoginChallenge(
        token_hash=_token_hash(token), user_id=user_id, next_path=next_path[:1000],
        created_at=now, expires_at=now + CHALLENGE_LIFETIME,
    ))
    session.flush()
    return token


def find_challenge(session: Session, token: str | None) -> LoginChallenge | None:
    if not token or len(token) > 100:
        return None
    challenge = session.scalar(
        select(LoginChallenge).where(LoginChallenge.token_hash == _token_hash(token))
    )
    if challenge is None or challenge.expires_at <= utcnow():
        return None
    return challenge


def end_challenge(session: Session, challenge: LoginChallenge) -> None:
    session.execute(delete(LoginChallenge).where(LoginChallenge.id == challenge.id))
