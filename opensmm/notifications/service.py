"""Each account's choice of mails: read (defaults when never saved) and saved."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from opensmm.accounts.models import User
from opensmm.db import utcnow
from opensmm.errors import DomainError
from opensmm.i18n import N_
from opensmm.money import MoneyError, parse_money
from opensmm.notifications.models import NotificationPrefs

# A threshold above this is surely a typing mistake.
MAX_THRESHOLD = Decimal(1_000_000_000)


class PrefsRefused(DomainError):
    message = N_("These notification settings cannot be saved")


@dataclass(frozen=True)
class Prefs:
    ticket_replies: bool = True
    payments: bool = True
    digest: bool = True
    low_balance: Decimal | None = None
    staff_alerts: bool = True

    @property
    def threshold_text(self) -> str:
        """The threshold as the form shows it: ``10`` or ``2.5``, empty for none."""
        if self.low_balance is None:
            return ""
        text = f"{self.low_balance:f}"
        return text.rstrip("0").rstrip(".") if "." in text else text


DEFAULTS = Prefs()


def _as_prefs(row: NotificationPrefs | None) -> Prefs:
    if row is None:
        return DEFAULTS
    return Prefs(ticket_replies=row.ticket_replies, payments=row.payments, digest=row.digest,
                 low_balance=row.low_balance, staff_alerts=row.staff_alerts)


def get(session: Session, user_id: int) -> Prefs:
    return _as_prefs(session.get(NotificationPrefs, user_id))


def for_users(session: Session, user_ids: list[int]) -> dict[int, Prefs]:
    """Everyone's choices at once (the defaults for those who never saved any)."""
    found: dict[int, Prefs] = {}
    for start in range(0, len(user_ids), 500):
        rows = session.scalars(select(NotificationPrefs).where(
            NotificationPrefs.user_id.in_(user_ids[start:start + 500]))).all()
        found.update({row.user_id: _as_prefs(row) for row in rows})
    return {uid: found.get(uid, DEFAULTS) for uid in user_ids}


def parse_threshold(text: str) -> Decimal | None:
    """The low-balance threshold as typed: empty for none, else a positive amount."""
    text = text.strip()
    if not text:
        return None
    if len(text) > 32:
        raise PrefsRefused(N_("The low-balance amount is not a valid amount"))
    try:
        amount = parse_money(text)
    except MoneyError:
        raise PrefsRefused(N_("The low-balance amount is not a valid amount")) from None
    if amount <= 0:
        raise PrefsRefused(N_("The low-balance amount must be more than zero"))
    if amount > MAX_THRESHOLD:
        raise PrefsRefused(N_("The low-balance amount is at most {max}"), max="1000000000")
    return amount


def save(session: Session, user: User, prefs: Prefs) -> Prefs:
    row = session.get(NotificationPrefs, user.id)
    if row is None:
        row = NotificationPrefs(user_id=user.id, low_balance_sent=False)
        session.add(row)
    if row.low_balance != prefs.low_balance:
        row.low_balance_sent = False  # a new threshold is watched afresh
    row.ticket_replies = prefs.ticket_replies
    row.payments = prefs.payments
    row.digest = prefs.digest
    row.low_balance = prefs.low_balance
    row.staff_alerts = prefs.staff_alerts if user.is_admin else True
    row.updated_at = utcnow()
    session.flush()
    return _as_prefs(row)
