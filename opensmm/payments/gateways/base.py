"""The one small interface every payment gateway implements, and its plain data.

A gateway does three things (``Gateway``): create a payment, verify a callback, and fetch a
payment's state (the worker polls pending payments so that a lost webhook loses no money).
Everything it returns is a plain frozen dataclass; everything that goes wrong is one of two
exceptions:

- ``GatewayError``: a call to the gateway failed (network, timeout, refusal, nonsense
  answer). Its message is safe to log and show to staff: it never holds a credential, and
  never the gateway's raw answer. ``retryable`` says whether trying again later may help.
- ``VerificationError``: a callback is refused (bad signature, tampered, malformed). The
  route answers it with a 4xx and writes nothing. Its message carries no secret either.

Gateways never touch the database: the caller matches ``VerifiedEvent.payment_id`` /
``reference`` to its payment row and checks the amount and currency the event carries
against what the customer was asked for, and the ledger credits at most once per payment
(``payment:{id}:credit``). So an event is *what the gateway says*, verified as coming from
it, not a decision to credit.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any, ClassVar, Protocol, runtime_checkable

# Callback bodies larger than this are refused before parsing: gateways send a few KB.
MAX_CALLBACK_BYTES = 256 * 1024
# Seconds for one call to a gateway (connect, read, write, pool: each).
DEFAULT_TIMEOUT = 20.0


class PaymentState(StrEnum):
    """A payment's state, the same words for every gateway."""

    PENDING = "pending"
    PAID = "paid"
    PARTIALLY_PAID = "partially_paid"
    EXPIRED = "expired"
    FAILED = "failed"
    REFUNDED = "refunded"
    DISPUTED = "disputed"


class GatewayError(Exception):
    """A call to a gateway failed. The message is safe: no credential, no raw answer."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable


class GatewayConfigError(GatewayError):
    """A payment method's settings are missing or invalid (names the setting, never its value)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


class VerificationError(Exception):
    """A callback that does not verify: refused with a 4xx, nothing written."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class PaymentRequest:
    """What the panel asks a gateway for: ``amount`` of ``currency`` for our payment."""

    payment_id: str
    amount: Decimal
    currency: str
    return_url: str
    cancel_url: str
    callback_url: str
    description: str = "Add funds"
    # manual: the customer's own reference (bank transfer number, wallet transaction…)
    customer_reference: str | None = None


@dataclass(frozen=True)
class CreatedPayment:
    """The gateway's answer: its reference, and where to send the customer (or what to do)."""

    reference: str
    redirect_url: str | None
    instructions: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class VerifiedEvent:
    """A callback verified as coming from the gateway: what it says happened.

    ``amount``/``currency`` are what the gateway reports, exactly as it reports it: for
    ``paid``/``partially_paid`` what was really paid; for ``refunded`` the *total* refunded
    so far (so a replayed or reordered refund debits ``total - already debited``, never
    twice); for ``disputed`` the disputed amount. The caller compares them with the
    payment it asked for. ``needs_review`` marks what the gateway documents as needing a person
    (an underpayment, an overpayment). ``event_id`` is stable across redeliveries of the
    same notification, for deduplication.
    """

    gateway: str
    event_id: str
    event_type: str
    state: PaymentState
    reference: str | None
    payment_id: str | None
    amount: Decimal | None
    currency: str | None
    # The gateway's other ids for the same payment (Stripe's PaymentIntent and charge,
    # PayPal's capture, NOWPayments' payment id): later events may name only those.
    other_references: tuple[str, ...] = ()
    needs_review: bool = False
    note: str | None = None
    # For a gateway whose payment must be completed by the panel (PayPal's capture).
    needs_completion: bool = False
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class PaymentStatus:
    """A payment's state as the gateway reports it when asked (polling)."""

    gateway: str
    reference: str
    state: PaymentState
    payment_id: str | None
    amount: Decimal | None
    currency: str | None
    other_references: tuple[str, ...] = ()
    needs_review: bool = False
    note: str | None = None
    needs_completion: bool = False
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)


@runtime_checkable
class Gateway(Protocol):
    """One payment gateway, configured from a payment method's settings."""

    name: ClassVar[str]
    # False for ``manual``: no callbacks to verify, nothing to poll; staff settle it.
    automatic: ClassVar[bool]

    def create_payment(self, request: PaymentRequest) -> CreatedPayment:
        """Ask the gateway for a payment; raise ``GatewayError`` on any failure."""
        ...

    def verify_callback(self, body: bytes, headers: Mapping[str, str]) -> VerifiedEvent:
        """Verify a callback's raw body and headers; raise ``VerificationError`` if it fails.

        May raise ``GatewayError`` when verifying needs a call to the gateway (PayPal)
        and that call fails: the gateway will deliver again, so answer it with a 5xx.
        """
        ...

    def fetch_payment(self, reference: str) -> PaymentStatus:
        """The payment's state at the gateway now, by the gateway's reference."""
        ...

    def complete_payment(self, reference: str) -> PaymentStatus:
        """Finish a payment the customer approved (PayPal's capture); others just fetch."""
        ...

    def close(self) -> None:
        """Close the gateway's HTTP connections."""
        ...


def idempotency_key(kind: str, payment_id: str, params: object) -> str:
    """A retry of the same request is the same request at the gateway; another panel on
    the same gateway account (its own payment ids, its own return URLs) never collides."""
    digest = hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()
    return f"opensmm-{kind}-{payment_id}-{digest[:24]}"[:120]


def lower_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Header names are case-insensitive: one lower-case dict."""
    return {str(key).lower(): str(value) for key, value in headers.items()}


def setting(settings: Mapping[str, str], key: str, gateway: str) -> str:
    """A required setting, stripped; the error names it, never a value."""
    value = str(settings.get(key) or "").strip()
    if not value:
        raise GatewayConfigError(f"{gateway}: the setting {key!r} is required")
    return value


def flag(settings: Mapping[str, str], key: str) -> bool:
    return str(settings.get(key) or "").strip().lower() in {"1", "true", "yes", "on"}


def timeout_setting(settings: Mapping[str, str], gateway: str) -> float:
    raw = str(settings.get("timeout") or "").strip()
    if not raw:
        return DEFAULT_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        raise GatewayConfigError(f"{gateway}: 'timeout' must be a number of seconds") from None
    if not 0 < value <= 120:
        raise GatewayConfigError(f"{gateway}: 'timeout' must be between 0 and 120 seconds")
    return value


def api_base(settings: Mapping[str, str], *, live: str, sandbox: str | None, gateway: str) -> str:
    """``api_base`` if set (a local server in tests, a staging proxy), else the documented
    host: the sandbox when ``sandbox=1`` and the gateway has one."""
    explicit = str(settings.get("api_base") or "").strip()
    if explicit:
        if not explicit.startswith(("https://", "http://")):
            raise GatewayConfigError(f"{gateway}: 'api_base' must be an http(s) URL")
        return explicit.rstrip("/")
    if flag(settings, "sandbox"):
        if sandbox is None:
            raise GatewayConfigError(f"{gateway}: this gateway has no sandbox")
        return sandbox
    return live
