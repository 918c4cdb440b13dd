"""Display currencies: the list staff keep, the rates (exact ``Decimal``), the customer's
choice and the conversion of an amount for showing.

A rate says how many of the currency one unit of the panel's currency buys (panel USD,
EUR 0.92: $10.00 shows as ≈ €9.20). Conversions are for the eye only: nothing converted is
ever stored, charged or answered by the API.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache

from babel.numbers import get_currency_precision, list_currencies
from sqlalchemy import select
from sqlalchemy.orm import Session

from opensmm.accounts.models import User
from opensmm.audit import service as audit
from opensmm.audit.actor import Actor
from opensmm.currencies.models import SOURCE_FETCHED, SOURCE_TYPED, DisplayCurrency
from opensmm.db import utcnow
from opensmm.errors import DomainError, NotFound
from opensmm.i18n import N_

# Bounds of a rate: positive, below a billion, at most ten decimal places (fetched rates
# are rounded to ten places; a typed rate with more is refused).
MAX_RATE = Decimal(10) ** 9
RATE_PLACES = 10
RATE_QUANTUM = Decimal(1).scaleb(-RATE_PLACES)
MAX_CURRENCIES = 50
_CODE = re.compile(r"[A-Z]{3}")


class CurrencyRefused(DomainError):
    message = N_("A currency is three letters of ISO 4217, like EUR")


class RateRefused(DomainError):
    message = N_("An exchange rate is a positive number below {max}, at most {places} "
                 "decimals")

    def __init__(self) -> None:
        super().__init__(type(self).message, max=f"{MAX_RATE:,}", places=RATE_PLACES)



@lru_cache(maxsize=1)
def _iso_codes() -> frozenset[str]:
    """Read at first use: babel's global data (megabytes) is not loaded at import."""
    return frozenset(list_currencies())


def parse_code(raw: object) -> str:
    """``" eur"`` → ``"EUR"``; anything that is not an ISO 4217 code is refused."""
    code = raw.strip().upper() if isinstance(raw, str) else ""
    if not _CODE.fullmatch(code) or code not in _iso_codes():
        raise CurrencyRefused()
    return code


def parse_rate(raw: object, *, rounded: bool = False) -> Decimal:
    """A rate as typed (``"0.92"``) or fetched (a JSON number read as ``Decimal``);
    ``rounded``: more than ten decimals are rounded instead of refused."""
    if isinstance(raw, bool) or not isinstance(raw, str | int | Decimal):
        raise RateRefused()
    try:
        rate = Decimal(raw.strip() if isinstance(raw, str) else raw)
    except (InvalidOperation, ValueError) as exc:
        raise RateRefused() from exc
    if not rate.is_finite() or not 0 < rate < MAX_RATE:
        raise RateRefused()
    exact = rate.quantize(RATE_QUANTUM, rounding=ROUND_HALF_UP)
    if exact != rate and not rounded:
        raise RateRefused()
    if exact <= 0:
        raise RateRefused()
    return exact.normalize()


def _text(rate: Decimal) -> str:
    return f"{rate:f}"


def listing(session: Session) -> list[DisplayCurrency]:
    return list(session.scalars(select(DisplayCurrency).order_by(DisplayCurrency.code)))


def rates(session: Session) -> dict[str, Decimal]:
    """Every display currency's rate, by code."""
    return {row.code: Decimal(row.rate) for row in listing(session)}


def rate_of(session: Session, code: str) -> Decimal | None:
    row = session.get(DisplayCurrency, code) if code else None
    return None if row is None else Decimal(row.rate)


def add(session: Session, raw_code: str, raw_rate: str, actor: Actor, *, base: str) -> Decimal:
    """A new display currency; ``base`` is the panel's currency (never one of them)."""
    code = parse_code(raw_code)
    rate = parse_rate(raw_rate)
    if code == base.upper():
        raise CurrencyRefused()
    if session.get(DisplayCurrency, code) is not None:
        raise DomainError(N_("{code} is already a display currency"), code=code)
    if len(listing(session)) >= MAX_CURRENCIES:
        raise DomainError(N_("No more display currencies can be added"))
    session.add(DisplayCurrency(code=code, rate=_text(rate), source=SOURCE_TYPED,
                                updated_at=utcnow()))
    session.flush()
    audit.record(session, actor, "currency.set", f"currency:{code}", code=code, before="—",
                 after=_text(rate))
    return rate


def _existing(session: Session, raw_code: str) -> DisplayCurrency:
    code = parse_code(raw_code)
    row = session.get(DisplayCurrency, code)
    if row is None:
        raise NotFound(N_("{code} is not a display currency"), code=code)
    return row


def set_rate(session: Session, raw_code: str, raw_rate: str, actor: Actor) -> Decimal:
    """Type in a new rate for a display currency."""
    row = _existing(session, raw_code)
    rate = parse_rate(raw_rate)
    before = row.rate
    row.rate, row.source, row.updated_at = _text(rate), SOURCE_TYPED, utcnow()
    audit.record(session, actor, "currency.set", f"currency:{row.code}", code=row.code,
                 before=before, after=row.rate)
    return rate


def remove(session: Session, raw_code: str, actor: Actor) -> str:
    """Customers who chose it see the panel's currency again."""
    row = _existing(session, raw_code)
    code = row.code
    session.delete(row)
    session.flush()
    audit.record(session, actor, "currency.remove", f"currency:{code}", code=code)
    return code


def apply_fetched(
    session: Session, fetched: dict[str, Decimal], source: str, actor: Actor
) -> dict[str, tuple[str, str]]:
    """Store the fetched rates of the listed currencies (the others are ignored; a listed
    one missing from the answer keeps its rate). Returns {code: (before, after)} of those
    that changed, audited as one entry."""
    changed: dict[str, tuple[str, str]] = {}
    for row in listing(session):
        rate = fetched.get(row.code)
        if rate is None:
            continue
        text = _text(rate)
        if text != row.rate:
            changed[row.code] = (row.rate, text)
            row.rate = text
        row.source, row.updated_at = SOURCE_FETCHED, utcnow()
    if changed:
        audit.record(session, actor, "currency.fetch", "currencies", url=source,
                     changes=", ".join(f"{code} {old} → {new}"
                                       for code, (old, new) in changed.items()))
    return changed


# --- the customer's choice and the conversion ----------------------------------------------
def chosen_code(session: Session, raw_code: str, *, base: str) -> str:
    """A display currency as chosen: "" (none: blank or the panel's own) or a listed one."""
    return "" if not raw_code.strip() or raw_code.strip().upper() == base.upper() else (
        _existing(session, raw_code).code
    )


def choose(session: Session, user: User, raw_code: str, *, base: str) -> str:
    """Remember a customer's display currency ("" or the panel's own: none)."""
    code = chosen_code(session, raw_code, base=base)
    user.display_currency = code
    return code


def convert(amount: Decimal, rate: Decimal, code: str) -> Decimal:
    """``amount`` in the panel's currency, in ``code`` at ``rate``, rounded half-up to the
    currency's usual decimals (two for EUR, none for JPY)."""
    places = Decimal(1).scaleb(-get_currency_precision(code))
    return (amount * rate).quantize(places, rounding=ROUND_HALF_UP) + 0
