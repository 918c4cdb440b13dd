"""NOWPayments: the crypto processor, with httpx.

Why NOWPayments rather than Cryptomus or Heleket (all three are common on SMM panels):

- **Callback signing.** NOWPayments signs each IPN with HMAC-SHA512 under a dedicated
  *IPN secret* (``x-nowpayments-sig``), separate from the API key. Cryptomus, and Heleket
  which copies its API, sign with ``md5(base64(json) + api_key)``: MD5, a secret suffix
  instead of an HMAC, and the very API key that also authorizes API calls, so a key that
  leaks from a config also forges callbacks. Their check depends on reproducing PHP's
  ``json_encode`` escaping byte for byte.
- **A sandbox.** NOWPayments documents ``api-sandbox.nowpayments.io``, with the same API
  and test coins; Cryptomus has only a "send a test webhook" call.
- **Partial payments are explicit.** NOWPayments reports ``partially_paid`` with the coin
  amount actually received (``actually_paid``) next to the amount asked (``pay_amount``)
  and the fiat price, so what was really paid can be computed exactly.

Its weak spot, handled here: the signature is over a *re-serialization* of the JSON body
(keys sorted, as ``JSON.stringify`` writes it in their Node examples), not the raw bytes.
``canonical_json`` rebuilds that string: keys sorted at every level, no spaces, non-ASCII
kept as is, ``/`` not escaped, numbers written as JavaScript writes them (``1`` not
``1.0``, ``1e-7``). Amounts are read from the body exactly (``Decimal``), never via floats.

Settings: ``api_key`` (x-api-key), ``ipn_secret`` (Store settings → IPN secret key),
``sandbox=1`` for the sandbox host, optional ``api_base`` and ``timeout``; ``email`` and
``password`` of the NOWPayments account, needed only to poll a payment whose IPN was lost
(the list of payments of an invoice, ``GET /v1/payment/?invoiceId=…``, takes a JWT from
``POST /v1/auth``).

A deposit is an invoice (``POST /v1/invoice``: the customer picks a coin on NOWPayments'
page); each attempt to pay it is a payment with its own id and status. Statuses:

- ``waiting``, ``confirming``, ``confirmed``, ``sending``: pending (funds seen or on their
  way; only ``finished`` is final);
- ``finished``: paid. If ``actually_paid`` is more than ``pay_amount`` (an overpayment)
  the invoice's price is credited and the event is marked for staff (the surplus is theirs
  to refund or credit); if it is less, what was paid is credited pro rata and marked;
- ``partially_paid``: the customer sent less than asked. Credited pro rata of the price
  (rounded down to the currency's cents: never more than was paid), marked for staff;
- ``failed``: failed; ``expired``: expired (nothing arrived in time); ``refunded``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import threading
import time
from collections.abc import Mapping
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any, ClassVar
from urllib.parse import quote

from opensmm.payments.gateways.base import (
    MAX_CALLBACK_BYTES,
    CreatedPayment,
    GatewayConfigError,
    GatewayError,
    PaymentRequest,
    PaymentState,
    PaymentStatus,
    VerificationError,
    VerifiedEvent,
    api_base,
    lower_headers,
    setting,
    timeout_setting,
)
from opensmm.payments.gateways.http import call_json, new_client
from opensmm.payments.gateways.units import (
    AmountError,
    check_amount,
    currency_code,
    exponent,
    parse_decimal_string,
)

LIVE_API = "https://api.nowpayments.io"
SANDBOX_API = "https://api-sandbox.nowpayments.io"
GATEWAY = "NOWPayments"
# A JWT from /v1/auth lives 5 minutes; renewed after 4.
JWT_SECONDS = 240.0

_PENDING = {"waiting", "confirming", "confirmed", "sending"}
_FINAL = {
    "failed": PaymentState.FAILED,
    "expired": PaymentState.EXPIRED,
    "refunded": PaymentState.REFUNDED,
}
# Which payment of an invoice speaks for it when it has several (a customer who switched
# coins): the most advanced.
_RANK = {
    "finished": 6,
    "partially_paid": 5,
    "refunded": 4,
    "sending": 3,
    "confirmed": 3,
    "confirming": 2,
    "waiting": 1,
    "failed": 0,
    "expired": 0,
}


# --- the signed string -------------------------------------------------------------------


def js_number(value: Decimal | int) -> str:
    """A JSON number as JavaScript's ``JSON.stringify`` writes it (Number::toString)."""
    if isinstance(value, bool):
        raise TypeError("not a number")
    if isinstance(value, int):
        number = float(value) if abs(value) >= 2**53 else None
        if number is None:
            return str(value)
    else:
        number = float(value)
    if not math.isfinite(number):
        return "null"
    if number == 0:
        return "0"
    sign = "-" if number < 0 else ""
    # repr gives the shortest digits that round-trip, the same digits JavaScript picks.
    digits_tuple, exp = Decimal(repr(abs(number))).normalize().as_tuple()[1:]
    digits = "".join(str(d) for d in digits_tuple)
    k = len(digits)
    n = int(exp) + k  # the value is 0.digits × 10^n
    if k <= n <= 21:
        text = digits + "0" * (n - k)
    elif 0 < n <= 21:
        text = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        text = "0." + "0" * (-n) + digits
    else:
        e = n - 1
        mantissa = digits if k == 1 else digits[0] + "." + digits[1:]
        text = f"{mantissa}e{'+' if e >= 0 else '-'}{abs(e)}"
    return sign + text


def canonical_json(value: Any) -> str:
    """The string NOWPayments signs: ``JSON.stringify`` of the body with sorted keys."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, int | Decimal):
        return js_number(value)
    if isinstance(value, list):
        return "[" + ",".join(canonical_json(item) for item in value) + "]"
    if isinstance(value, dict):
        return (
            "{"
            + ",".join(
                json.dumps(key, ensure_ascii=False) + ":" + canonical_json(value[key])
                for key in sorted(value, key=_js_key_order)
            )
            + "}"
        )
    raise TypeError("not JSON")


def _js_key_order(key: str) -> tuple[int, int, bytes]:
    """Where ``JSON.stringify`` writes a key of an object built from sorted keys: integer-like
    keys (array indices) first, in numeric order, whatever the sort did; then the others
    in the order of ``Array.prototype.sort``, by UTF-16 code units."""
    if key.isascii() and key.isdigit() and (key == "0" or key[0] != "0") and int(key) < 2**32 - 1:
        return (0, int(key), b"")
    return (1, 0, key.encode("utf-16-be", "surrogatepass"))


def signature(body: Any, ipn_secret: str) -> str:
    """``x-nowpayments-sig``: HMAC-SHA512 of the canonical JSON under the IPN secret."""
    message = canonical_json(body).encode("utf-8")
    return hmac.new(ipn_secret.encode("utf-8"), message, hashlib.sha512).hexdigest()


def parse_body(body: bytes) -> Any:
    """JSON with every number kept exact (``Decimal``/``int``), duplicate keys refused."""

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, item in pairs:
            if key in result:
                raise ValueError("duplicate key")
            result[key] = item
        return result

    return json.loads(
        body.decode("utf-8"),
        parse_float=Decimal,
        parse_constant=_no_constant,
        object_pairs_hook=no_duplicates,
    )


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# --- the gateway -------------------------------------------------------------------------


class NowPayments:
    name: ClassVar[str] = "nowpayments"
    automatic: ClassVar[bool] = True
    secret_settings: ClassVar[frozenset[str]] = frozenset({"api_key", "ipn_secret", "password"})
    known_settings: ClassVar[frozenset[str]] = secret_settings | {
        "email", "api_base", "sandbox", "timeout"
    }

    def __init__(self, settings: Mapping[str, str]) -> None:
        self._api_key = setting(settings, "api_key", self.name)
        self._ipn_secret = setting(settings, "ipn_secret", self.name)
        self._email = str(settings.get("email") or "").strip()
        self._password = str(settings.get("password") or "")
        self.api_base = api_base(settings, live=LIVE_API, sandbox=SANDBOX_API, gateway=self.name)
        self.timeout = timeout_setting(settings, self.name)
        self._http = new_client(self.timeout)
        self._jwt: tuple[str, float] | None = None
        self._jwt_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"NowPayments(api_base={self.api_base!r})"

    def close(self) -> None:
        self._http.close()

    def _headers(self) -> dict[str, str]:
        return {"x-api-key": self._api_key, "Content-Type": "application/json"}

    # --- create -------------------------------------------------------------------------

    def create_payment(self, request: PaymentRequest) -> CreatedPayment:
        currency = currency_code(request.currency)
        amount = check_amount(request.amount, exponent(currency))
        fields = {
            "price_currency": currency.lower(),
            "order_id": request.payment_id,
            "order_description": request.description[:200],
            "ipn_callback_url": request.callback_url,
            "success_url": request.return_url,
            "cancel_url": request.cancel_url,
            "partially_paid_url": request.return_url,
        }
        # The price as an exact JSON number, written by hand: never through a float.
        body = '{"price_amount": ' + format(amount, "f") + ", " + json.dumps(fields)[1:]
        _, answer = call_json(
            self._http,
            GATEWAY,
            "POST",
            f"{self.api_base}/v1/invoice",
            headers=self._headers(),
            content=body.encode("utf-8"),
        )
        if not isinstance(answer, dict):
            raise GatewayError("NOWPayments answered the invoice with something else")
        invoice_id = answer.get("id")
        url = answer.get("invoice_url")
        if isinstance(invoice_id, bool) or not isinstance(invoice_id, str | int):
            raise GatewayError("NOWPayments answered the invoice without an id")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise GatewayError("NOWPayments answered the invoice without its URL")
        return CreatedPayment(reference=str(invoice_id), redirect_url=url, raw=answer)

    # --- callbacks ----------------------------------------------------------------------

    def verify_callback(self, body: bytes, headers: Mapping[str, str]) -> VerifiedEvent:
        if len(body) > MAX_CALLBACK_BYTES:
            raise VerificationError("the callback is too large")
        sent = lower_headers(headers).get("x-nowpayments-sig", "").strip().lower()
        if not sent:
            raise VerificationError("the x-nowpayments-sig header is missing")
        try:
            data = parse_body(body)
            expected = signature(data, self._ipn_secret)
        except (ValueError, TypeError, UnicodeError, RecursionError):
            raise VerificationError("the callback is not JSON") from None
        if not hmac.compare_digest(expected, sent):
            raise VerificationError("the NOWPayments signature does not verify")
        if not isinstance(data, dict):
            raise VerificationError("the callback is not a NOWPayments payment")
        try:
            return self._event(data)
        except VerificationError:
            raise
        except (AmountError, KeyError, TypeError, ValueError, InvalidOperation):
            raise VerificationError("the NOWPayments callback is malformed") from None

    def _event(self, data: dict[str, Any]) -> VerifiedEvent:
        payment = _read_payment(data)
        if payment.status not in _RANK:
            raise VerificationError(f"NOWPayments status {payment.status[:40]!r} is not known")
        return VerifiedEvent(
            gateway=self.name,
            # Redeliveries of one notification are the same payment, status and amount.
            event_id=f"{payment.payment_id}:{payment.status}:{payment.actually_paid}",
            event_type=f"payment.{payment.status}",
            state=payment.state,
            reference=payment.invoice_id,
            other_references=(payment.payment_id,),
            payment_id=payment.order_id,
            amount=payment.amount,
            currency=payment.currency,
            needs_review=payment.needs_review,
            note=payment.note,
            raw=data,
        )

    # --- poll ---------------------------------------------------------------------------

    def _token(self) -> str:
        if not self._email or not self._password:
            raise GatewayConfigError(
                "nowpayments: polling needs the account's 'email' and 'password' settings"
            )
        with self._jwt_lock:
            now = time.monotonic()
            if self._jwt and self._jwt[1] > now:
                return self._jwt[0]
            _, answer = call_json(
                self._http,
                GATEWAY,
                "POST",
                f"{self.api_base}/v1/auth",
                headers={"Content-Type": "application/json"},
                content=json.dumps({"email": self._email, "password": self._password}).encode(),
            )
            token = answer.get("token") if isinstance(answer, dict) else None
            if not isinstance(token, str) or not token:
                raise GatewayError("NOWPayments answered the log-in without a token")
            self._jwt = (token, now + JWT_SECONDS)
            return token

    def fetch_payment(self, reference: str) -> PaymentStatus:
        if not reference.isdigit() or len(reference) > 20:
            raise GatewayError("not a NOWPayments invoice id", retryable=False)
        headers = {**self._headers(), "Authorization": f"Bearer {self._token()}"}
        _, answer = call_json(
            self._http,
            GATEWAY,
            "GET",
            f"{self.api_base}/v1/payment/?invoiceId={quote(reference)}&limit=100&page=0"
            "&sortBy=updated_at&orderBy=desc",
            headers=headers,
        )
        rows = answer.get("data") if isinstance(answer, dict) else None
        if not isinstance(rows, list):
            raise GatewayError("NOWPayments answered the list of payments with something else")
        try:
            payments = [_read_payment(row) for row in rows if isinstance(row, dict)]
        except (AmountError, KeyError, TypeError, ValueError, InvalidOperation):
            raise GatewayError("NOWPayments answered with a malformed payment") from None
        payments = [p for p in payments if p.status in _RANK and p.invoice_id in {None, reference}]
        if not payments:
            # The customer has not picked a coin yet: nothing to pay into.
            return PaymentStatus(
                gateway=self.name,
                reference=reference,
                state=PaymentState.PENDING,
                payment_id=None,
                amount=None,
                currency=None,
                note="no payment made for this invoice yet",
            )
        best = max(payments, key=lambda p: _RANK[p.status])
        return PaymentStatus(
            gateway=self.name,
            reference=reference,
            state=best.state,
            payment_id=best.order_id,
            amount=best.amount,
            currency=best.currency,
            other_references=tuple(p.payment_id for p in payments),
            needs_review=best.needs_review,
            note=best.note,
            raw={"data": rows},
        )

    def complete_payment(self, reference: str) -> PaymentStatus:
        return self.fetch_payment(reference)


class _Payment:
    """One NOWPayments payment as read from an IPN or the list, with what it means."""

    def __init__(
        self,
        *,
        payment_id: str,
        invoice_id: str | None,
        order_id: str | None,
        status: str,
        state: PaymentState,
        amount: Decimal | None,
        currency: str,
        actually_paid: str,
        needs_review: bool,
        note: str | None,
    ) -> None:
        self.payment_id = payment_id
        self.invoice_id = invoice_id
        self.order_id = order_id
        self.status = status
        self.state = state
        self.amount = amount
        self.currency = currency
        self.actually_paid = actually_paid
        self.needs_review = needs_review
        self.note = note


def _id(value: object) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise TypeError("id")
    text = str(value)
    if len(text) > 64:
        raise ValueError("id")
    return text


def _read_payment(data: Mapping[str, Any]) -> _Payment:
    payment_id = _id(data["payment_id"])
    if payment_id is None:
        raise ValueError("payment_id")
    status = data["payment_status"]
    if not isinstance(status, str):
        raise TypeError("payment_status")
    currency = currency_code(str(data["price_currency"]))
    price = parse_decimal_string(data["price_amount"])
    asked = _optional_amount(data.get("pay_amount"))
    paid = _optional_amount(data.get("actually_paid"))
    pay_currency = str(data.get("pay_currency") or "")[:20]
    cents = Decimal(1).scaleb(-exponent(currency))
    order_id = data.get("order_id")
    needs_review = False
    note: str | None = None
    amount: Decimal | None = price

    if status in _PENDING:
        state = PaymentState.PENDING
    elif status in _FINAL:
        state = _FINAL[status]
        if status != "refunded":
            amount = None
    elif status in {"finished", "partially_paid"}:
        if paid is None or asked is None or asked <= 0:
            state = PaymentState.PAID if status == "finished" else PaymentState.PARTIALLY_PAID
            amount = price if status == "finished" else None
            needs_review = True
            note = "the amount paid is not reported"
        elif status == "partially_paid" or paid < asked:
            state = PaymentState.PARTIALLY_PAID if status == "partially_paid" else PaymentState.PAID
            amount = min(price, (price * paid / asked).quantize(cents, rounding=ROUND_DOWN))
            needs_review = True
            note = f"underpaid: {paid} of {asked} {pay_currency}"
        elif paid > asked:
            state = PaymentState.PAID
            needs_review = True
            note = f"overpaid: {paid} of {asked} {pay_currency}"
        else:
            state = PaymentState.PAID
    else:
        state = PaymentState.PENDING

    return _Payment(
        payment_id=payment_id,
        invoice_id=_id(data.get("invoice_id")),
        order_id=order_id if isinstance(order_id, str) and order_id else None,
        status=status,
        state=state,
        amount=amount,
        currency=currency,
        actually_paid=str(paid if paid is not None else ""),
        needs_review=needs_review,
        note=note,
    )


def _optional_amount(value: object) -> Decimal | None:
    if value is None or value == "":
        return None
    amount = parse_decimal_string(value)
    if amount < 0:
        raise ValueError("negative amount")
    return amount
