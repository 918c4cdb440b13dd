"""The client's exceptions: one hierarchy rooted at :class:`ClientError`.

The question a caller that sends orders must answer after a failure is *"could the panel
have acted on my request?"*. Every exception answers it with :attr:`ClientError.outcome_unknown`:

- ``False``: the panel certainly did not act (the connection was refused, the panel
  answered with an explicit refusal, a 4xx page...). Retrying cannot create a duplicate.
- ``True``: the request may have been processed (a timeout after it was sent, a connection
  dropped mid-response, a 5xx page, an unreadable body). These all derive from
  :class:`DoubtfulError`; check the order's fate before sending it again.

::

    ClientError                                    outcome_unknown
    ├── InvalidArgument (also a ValueError)        False  nothing was sent
    ├── UnknownStatusError                         False  a status that maps to no known state
    ├── TransportError                             False
    │   ├── ConnectError                           False  refused, DNS, TLS, proxy
    │   │   └── ConnectTimeout                     False  connect or pool timeout
    │   ├── Timeout (+ DoubtfulError)              True   read/write timeout
    │   └── ConnectionDropped (+ DoubtfulError)    True   closed mid-request or mid-response
    ├── HTTPStatusError                            False  3xx/4xx page
    │   └── HTTPServerError (+ DoubtfulError)      True   5xx page
    ├── DoubtfulError                              True
    │   └── BadResponse                            True   HTML, empty, invalid JSON, wrong shape
    └── ApiError                                   False  ``{"error": "..."}``
        ├── InvalidKey, NotEnoughFunds, OrderNotFound, RefillNotFound, ServiceNotFound,
        ├── InvalidLink, QuantityOutOfRange, DuplicateActiveOrder, IncorrectRequest

No message or ``repr`` ever contains the API key: the client redacts it from the body
snippets it quotes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import ClassVar

__all__ = [
    "ApiError",
    "BadResponse",
    "ClientError",
    "ConnectError",
    "ConnectTimeout",
    "ConnectionDropped",
    "DoubtfulError",
    "DuplicateActiveOrder",
    "HTTPServerError",
    "HTTPStatusError",
    "IncorrectRequest",
    "InvalidArgument",
    "InvalidKey",
    "InvalidLink",
    "NotEnoughFunds",
    "OrderNotFound",
    "QuantityOutOfRange",
    "RefillNotFound",
    "ServiceNotFound",
    "Timeout",
    "TransportError",
    "UnknownStatusError",
    "api_error_class",
    "classify_api_error",
]


class ClientError(Exception):
    """Base of every exception the client raises.

    ``action`` is the API action that failed (``None`` when not tied to a request).
    ``partial_results`` is set when a call split into several requests of 100 ids failed
    after some of them succeeded: it maps the ids already answered to their results.
    """

    #: ``True`` when the panel may have processed the request (see the module docstring).
    outcome_unknown: ClassVar[bool] = False

    def __init__(self, message: str, *, action: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.action = action
        self.partial_results: Mapping[int, object] | None = None


class DoubtfulError(ClientError):
    """The request may have reached the panel and been processed: outcome unknown."""

    outcome_unknown: ClassVar[bool] = True


class InvalidArgument(ClientError, ValueError):
    """The caller passed a value the client refuses to send (nothing was sent)."""


class UnknownStatusError(ClientError):
    """Raised by ``require_known()`` when the panel sent a status the client cannot map.

    ``raw`` is the panel's string, unchanged, so that it can be reported.
    """

    def __init__(self, raw: str, kind: str) -> None:
        super().__init__(f"unknown {kind} status {raw!r}")
        self.raw = raw
        self.kind = kind


# --- transport -----------------------------------------------------------------------


class TransportError(ClientError):
    """The HTTP exchange failed below the HTTP level."""


class ConnectError(TransportError):
    """No connection could be made (refused, DNS, TLS, proxy): nothing was sent."""


class ConnectTimeout(ConnectError):
    """Connecting (or waiting for a pooled connection) timed out: nothing was sent.

    Deliberately *not* a :class:`Timeout`: :class:`Timeout` means the request may have
    been processed, this one certainly was not.
    """


class Timeout(TransportError, DoubtfulError):
    """The request was (at least partly) sent and no full answer came in time."""


class ConnectionDropped(TransportError, DoubtfulError):
    """The connection broke after the request was (at least partly) sent."""


# --- HTTP and body -------------------------------------------------------------------


class HTTPStatusError(ClientError):
    """The panel answered with a non-2xx HTTP status (and no API error message).

    ``status_code`` is the HTTP status, ``snippet`` the start of the body (key redacted).
    """

    def __init__(
        self, message: str, *, status_code: int, snippet: str, action: str | None = None
    ) -> None:
        super().__init__(message, action=action)
        self.status_code = status_code
        self.snippet = snippet


class HTTPServerError(HTTPStatusError, DoubtfulError):
    """A 5xx answer: the panel (or a proxy in front of it) may have processed the request."""


class BadResponse(DoubtfulError):
    """A 2xx answer the client cannot read: HTML, empty, invalid JSON or the wrong shape.

    Doubtful on purpose: a panel that printed a PHP warning before its JSON may well have
    created the order. ``snippet`` is the start of the body (key redacted).
    """

    def __init__(self, message: str, *, snippet: str, action: str | None = None) -> None:
        super().__init__(message, action=action)
        self.snippet = snippet


# --- API errors ----------------------------------------------------------------------


class ApiError(ClientError):
    """The panel refused the request with ``{"error": message}``.

    ``str(exc)`` and ``exc.message`` are the panel's message, unchanged. ``http_status`` is
    the HTTP status it came with (200 for well-behaved panels).
    """

    def __init__(
        self, message: str, *, action: str | None = None, http_status: int | None = None
    ) -> None:
        super().__init__(message, action=action)
        self.http_status = http_status


class InvalidKey(ApiError):
    """``Invalid API key``: missing, unknown or revoked key."""


class NotEnoughFunds(ApiError):
    """``Not enough funds on balance`` (or ``neworder.error.not_enough_funds``)."""


class OrderNotFound(ApiError):
    """``Incorrect order ID``: no such order on this account."""


class RefillNotFound(ApiError):
    """``Refill not found``: no such refill on this account."""


class ServiceNotFound(ApiError):
    """``Incorrect service ID``: unknown or disabled service."""


class InvalidLink(ApiError):
    """``Incorrect link``."""


class QuantityOutOfRange(ApiError):
    """``Quantity less than minimal 50`` / ``Quantity more than maximal 10000``."""


class DuplicateActiveOrder(ApiError):
    """``You have active order with this link...``."""


class IncorrectRequest(ApiError):
    """``Incorrect request``: the panel did not understand the request."""


# Checked in order against the message lower-cased, with ``.``, ``_`` and ``-`` turned
# into spaces (so that ``neworder.error.not_enough_funds`` reads "not enough funds").
_PATTERNS: tuple[tuple[re.Pattern[str], type[ApiError]], ...] = (
    (
        re.compile(r"\bnot enough (funds|balance|money)\b|\binsufficient (funds|balance)\b"),
        NotEnoughFunds,
    ),
    (
        re.compile(
            r"\b(invalid|incorrect|wrong|bad)( api)? key\b"
            r"|\bapi key (is )?(invalid|incorrect|wrong)\b"
        ),
        InvalidKey,
    ),
    (
        re.compile(
            r"\b(incorrect|invalid|unknown|wrong) order id\b|\border( id)? not found\b"
            r"|\border (does not|doesn t) exist\b"
        ),
        OrderNotFound,
    ),
    (
        re.compile(r"\b(incorrect|invalid|unknown|wrong) refill id\b|\brefill( id)? not found\b"),
        RefillNotFound,
    ),
    (
        re.compile(
            r"\b(incorrect|invalid|unknown|wrong) service id\b|^(incorrect|invalid|wrong) service$"
            r"|\bservice( id)? not found\b"
        ),
        ServiceNotFound,
    ),
    (re.compile(r"\b(incorrect|invalid|wrong|bad) link\b"), InvalidLink),
    (
        re.compile(r"\bquantity (less|more|lower|greater|higher|smaller|bigger) than\b"),
        QuantityOutOfRange,
    ),
    (re.compile(r"\bactive order with this link\b"), DuplicateActiveOrder),
    (re.compile(r"^incorrect request$"), IncorrectRequest),
)


def _normalize_message(message: str) -> str:
    lowered = re.sub(r"[._\-']+", " ", message.casefold())
    return " ".join(lowered.split())


def api_error_class(message: str) -> type[ApiError]:
    """The :class:`ApiError` subclass a panel message maps to (``ApiError`` if none)."""
    normalized = _normalize_message(message)
    for pattern, cls in _PATTERNS:
        if pattern.search(normalized):
            return cls
    return ApiError


def classify_api_error(
    message: str, *, action: str | None = None, http_status: int | None = None
) -> ApiError:
    """Build the specific :class:`ApiError` for a panel's error message."""
    return api_error_class(message)(message, action=action, http_status=http_status)
