"""Password reset and email verification: the links mailed, and what using them does.

Every function runs in the caller's unit of work; the mails are queued in it
(``opensmm.mail.service.queue``), so a refused action mails nothing.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from opensmm.accounts import links
from opensmm.accounts import service as accounts
from opensmm.accounts.models import RESET_LINK, USER_ACTIVE, VERIFY_LINK, User
from opensmm.accounts.passwords import verify_password
from opensmm.db import utcnow
from opensmm.errors import DomainError
from opensmm.i18n import N_
from opensmm.mail import render as mail_templates
from opensmm.mail import service as mail
from opensmm.web import sessions

# "Forgot password?" asks allowed per hour: per address (whatever the name typed), and per
# account (mails one inbox may receive).
RESET_PER_IP_PER_HOUR = 10
RESET_PER_ACCOUNT_PER_HOUR = 3
# Verification links one account may ask for per hour.
VERIFY_PER_ACCOUNT_PER_HOUR = 5

RESET_PATH = "/password/reset"
VERIFY_PATH = "/email/verify"


class NoEmail(DomainError):
    message = N_("This account has no email address")


class TooManyLinks(DomainError):
    message = N_("Too many links were asked for. Please try again in an hour.")


def link_url(base_url: str, path: str, token: str) -> str:
    return f"{base_url.rstrip('/')}{path}?token={token}"


# --- password reset ------------------------------------------------------------------


def request_reset(session: Session, login: str, base_url: str, ip: str) -> bool:
    """"Forgot password?": mail a reset link when ``login`` names an active account with
    an email, within the per-account limit. The answer is the same whether or not it does
    (False only when this address asked too often, which tells nothing of the account)."""
    if not sessions.hourly_allowed(session, "+reset-ip:" + ip, ip, RESET_PER_IP_PER_HOUR):
        return False
    user = accounts.find_login(session, login)
    if (
        user is not None
        and user.email
        and user.status == USER_ACTIVE
        and sessions.hourly_allowed(session, f"+reset#{user.id}", ip, RESET_PER_ACCOUNT_PER_HOUR)
    ):
        send_reset(session, user, base_url)
    return True


def send_reset(session: Session, user: User, base_url: str) -> int:
    """Mail ``user`` a new reset link (the earlier ones end); the outbox row's id."""
    if not user.email:
        raise NoEmail()
    token = links.issue(session, user, RESET_LINK)
    return mail.queue(
        session, to=user.email, template=mail_templates.PASSWORD_RESET,
        language=user.language, name=user.name, link=link_url(base_url, RESET_PATH, token),
    )


def reset_password(session: Session, token: str, password: str) -> User:
    """Use a reset link: the new password (the sign-up rules), and every session of the
    user ends (whoever was logged in with the old password is logged out)."""
    accounts.validate_password(password)
    valid = links.use(session, RESET_LINK, token)
    accounts.set_password(session, valid.user, password)
    sessions.end_other_sessions(session, valid.user.id)
    return valid.user


# --- email verification --------------------------------------------------------------


def send_verification(session: Session, user: User, base_url: str) -> int:
    if not user.email:
        raise NoEmail()
    token = links.issue(session, user, VERIFY_LINK, email=user.email)
    return mail.queue(
        session, to=user.email, template=mail_templates.EMAIL_VERIFICATION,
        language=user.language, name=user.name, link=link_url(base_url, VERIFY_PATH, token),
    )


def resend_verification(session: Session, user: User, base_url: str, ip: str) -> int:
    """The customer's "send the link again", limited per account."""
    if user.email_verified_at is not None:
        raise DomainError(N_("Your email address is already confirmed."))
    if not sessions.hourly_allowed(session, f"+verify#{user.id}", ip,
                                   VERIFY_PER_ACCOUNT_PER_HOUR):
        raise TooManyLinks()
    return send_verification(session, user, base_url)


def verify_email(session: Session, token: str) -> User:
    """Use a verification link: the address it was sent to is confirmed, if it is still
    the account's."""
    valid = links.use(session, VERIFY_LINK, token)
    if valid.token.email != valid.user.email:
        raise links.LinkRefused()
    valid.user.email_verified_at = utcnow()
    return valid.user


def change_email(
    session: Session, user: User, new_email: str, password: str, base_url: str
) -> User:
    """A new address for ``user`` (the current password proves it is them): it must be
    confirmed again, and the old address is told."""
    if not verify_password(user.password_hash, password):
        raise accounts.WrongPassword()
    email = new_email.strip().lower()
    if len(email) > 254 or not accounts.EMAIL_PATTERN.match(email):
        raise DomainError(N_('That email address does not look valid'))
    if email == user.email:
        raise DomainError(N_("That is already your email address."))
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise DomainError(N_('That email address is already registered'))
    old = user.email
    try:
        with session.begin_nested():
            user.email = email
            user.email_verified_at = None
            session.flush()
    except IntegrityError:
        raise DomainError(N_('That email address is already registered')) from None
    send_verification(session, user, base_url)
    if old:
        mail.queue(
            session, to=old, template=mail_templates.EMAIL_CHANGED, language=user.language,
            name=user.name, new_email=email,
        )
    return user
