"""Staff deposits (and take-backs): one rule for every door, and safe to replay.

A deposit carries an idempotency key chosen by the door (the back-office form's one-time
token, ``opensmm funds add --idempotency-key``): its ledger key is ``deposit:{key}``, so a
double-submitted form or a retried command credits once. The same key again with the same
account and amount is a replay (nothing moves, and the caller is told); with another account
or amount it is refused.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from opensmm.accounts.models import User
from opensmm.audit import service as audit
from opensmm.audit.actor import Actor
from opensmm.errors import DomainError
from opensmm.events import Actor as EventActor
from opensmm.events import params as event_params
from opensmm.i18n import N_
from opensmm.ledger import events
from opensmm.ledger.models import DEPOSIT, LedgerEntry
from opensmm.ledger.service import post
from opensmm.money import format_money

MAX_MEMO = 500
_KEY = re.compile(r"[A-Za-z0-9._:-]{8,100}")


class DepositRefused(DomainError):
    pass


class KeyReused(DepositRefused):
    message = N_(
        "This idempotency key was already used for another deposit (another user or "
        "amount); nothing was changed"
    )


def new_key() -> str:
    return secrets.token_urlsafe(18)


def check_key(key: str) -> str:
    key = key.strip()
    if not _KEY.fullmatch(key):
        raise DepositRefused(
            N_("The idempotency key must be 8 to 100 letters, digits or . _ : -")
        )
    return key


def check_memo(memo: str) -> str:
    """A balance change needs a memo: it tells the customer what the movement is."""
    memo = memo.strip()
    if not memo:
        raise DepositRefused(N_("A memo is required: it tells the customer what the movement is"))
    if len(memo) > MAX_MEMO:
        raise DepositRefused(N_("A memo is at most 500 characters"))
    if not all(ch.isprintable() for ch in memo):
        raise DepositRefused(N_("A memo must not contain control characters"))
    return memo


@dataclass(frozen=True)
class Deposit:
    key: str
    amount: Decimal
    replayed: bool  # True: this key had already credited; nothing moved this time


def staff_deposit(
    session: Session, actor: Actor, user: User, amount: Decimal, *, memo: str, key: str
) -> Deposit:
    """Add (negative: take back) funds once per ``key``; one audit row when money moves."""
    key = check_key(key)
    memo = check_memo(memo)
    if amount == 0:
        raise DepositRefused(N_("The amount must not be zero"))
    ledger_key = f"{DEPOSIT}:{key}"
    moved = post(
        session,
        user_id=user.id,
        amount=amount,
        kind=DEPOSIT,
        key=ledger_key,
        event=events.FUNDS_WITH_MEMO,
        params=event_params(actor=EventActor.of(actor.label)),
        memo=memo,
    )
    if not moved:
        earlier = session.execute(
            select(LedgerEntry.user_id, LedgerEntry.amount).where(LedgerEntry.key == ledger_key)
        ).one()
        if earlier.user_id != user.id or earlier.amount != amount:
            raise KeyReused()
        return Deposit(key, amount, replayed=True)
    audit.record(session, actor, "funds.adjust", f"user:{user.id}", user=user.name,
                 amount=format_money(amount), memo=memo, key=key)
    return Deposit(key, amount, replayed=False)
