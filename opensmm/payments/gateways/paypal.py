"""PayPal Checkout: Orders v2, with httpx (PayPal's REST API).

Settings: ``client_id``, ``client_secret`` (a REST app in the developer dashboard),
``webhook_id`` (the id PayPal gives the webhook endpoint; it is part of every signature),
``sandbox=1`` for ``api-m.sandbox.paypal.com`` (else ``api-m.paypal.com``), optional
``api_base``, ``timeout`` and ``invoice_prefix`` (default ``opensmm-``: PayPal refuses an
``invoice_id`` it has seen before on the account, so two panels on one account need
different prefixes).

The flow: an OAuth2 client-credentials token (``/v1/oauth2/token``, cached until shortly
before it expires), an order (``/v2/checkout/orders``, intent CAPTURE, our payment id as
``custom_id`` and in ``invoice_id``, the amount as a decimal string), the customer approves
it on PayPal, then the panel captures it (``/v2/checkout/orders/{id}/capture``) on the
return page or on the ``CHECKOUT.ORDER.APPROVED`` webhook, whichever comes first: the
capture carries a ``PayPal-Request-Id`` so the second is the same capture, and an order
already captured is read back instead.

Webhooks are verified as PayPal documents, by PayPal itself:
``POST /v1/notifications/verify-webhook-signature`` with the transmission headers, our
``webhook_id`` and the event, and ``verification_status == "SUCCESS"``. The event is passed
through byte for byte (spliced into the request, not re-serialized): re-encoding an event
changes its bytes and PayPal's check fails on them.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, ClassVar

from opensmm.payments.gateways.base import (
    MAX_CALLBACK_BYTES,
    CreatedPayment,
    GatewayError,
    PaymentRequest,
    PaymentState,
    PaymentStatus,
    VerificationError,
    VerifiedEvent,
    api_base,
    idempotency_key,
    lower_headers,
    setting,
    timeout_setting,
)
from opensmm.payments.gateways.http import call_json, new_client
from opensmm.payments.gateways.units import (
    AmountError,
    currency_code,
    parse_decimal_string,
    paypal_places,
    to_decimal_string,
)

LIVE_API = "https://api-m.paypal.com"
SANDBOX_API = "https://api-m.sandbox.paypal.com"
GATEWAY = "PayPal"
TRANSMISSION_HEADERS = {
    "auth_algo": "paypal-auth-algo",
    "cert_url": "paypal-cert-url",
    "transmission_id": "paypal-transmission-id",
    "transmission_sig": "paypal-transmission-sig",
    "transmission_time": "paypal-transmission-time",
}
EVENTS = frozenset(
    {
        "CHECKOUT.ORDER.APPROVED",
        "PAYMENT.CAPTURE.COMPLETED",
        "PAYMENT.CAPTURE.PENDING",
        "PAYMENT.CAPTURE.DENIED",
        "PAYMENT.CAPTURE.REFUNDED",
        "CUSTOMER.DISPUTE.CREATED",
    }
)
_CAPTURE_STATES = {
    "COMPLETED": PaymentState.PAID,
    "PENDING": PaymentState.PENDING,
    "DECLINED": PaymentState.FAILED,
    "FAILED": PaymentState.FAILED,
    "REFUNDED": PaymentState.REFUNDED,
    # Part of it was refunded: still paid; the refund's own event says how much.
    "PARTIALLY_REFUNDED": PaymentState.PAID,
}


class PayPalCheckout:
    name: ClassVar[str] = "paypal"
    automatic: ClassVar[bool] = True
    secret_settings: ClassVar[frozenset[str]] = frozenset({"client_secret"})
    known_settings: ClassVar[frozenset[str]] = secret_settings | {
        "client_id", "webhook_id", "invoice_prefix", "api_base", "sandbox", "timeout"
    }

    def __init__(self, settings: Mapping[str, str]) -> None:
        self._client_id = setting(settings, "client_id", self.name)
        self._client_secret = setting(settings, "client_secret", self.name)
        self._webhook_id = setting(settings, "webhook_id", self.name)
        self.api_base = api_base(settings, live=LIVE_API, sandbox=SANDBOX_API, gateway=self.name)
        self.timeout = timeout_setting(settings, self.name)
        self.invoice_prefix = str(settings.get("invoice_prefix") or "opensmm-")[:40]
        self._http = new_client(self.timeout)
        self._token: tuple[str, float] | None = None
        self._token_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"PayPalCheckout(api_base={self.api_base!r})"

    def close(self) -> None:
        self._http.close()

    # --- the token ----------------------------------------------------------------------

    def _access_token(self, *, renew: bool = False) -> str:
        with self._token_lock:
            now = time.monotonic()
            if self._token and not renew and self._token[1] > now:
                return self._token[0]
            _, body = call_json(
                self._http,
                GATEWAY,
                "POST",
                f"{self.api_base}/v1/oauth2/token",
                headers={"Accept": "application/json"},
                data={"grant_type": "client_credentials"},
                auth=(self._client_id, self._client_secret),
            )
            token = body.get("access_token") if isinstance(body, dict) else None
            if not isinstance(token, str) or not token:
                raise GatewayError("PayPal answered the token request without a token")
            expires = body.get("expires_in")
            lifetime = float(expires) if isinstance(expires, int | Decimal) else 300.0
            # Renewed a minute early: a token must not expire between two calls.
            self._token = (token, now + max(lifetime - 60.0, 0.0))
            return token

    def _api(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        accept_status: frozenset[int] = frozenset(),
    ) -> tuple[int, Any]:
        extra = dict(headers or {})
        if body is not None:
            extra["Content-Type"] = "application/json"
        for attempt in range(2):
            token = self._access_token(renew=attempt > 0)
            status, answer = call_json(
                self._http,
                GATEWAY,
                method,
                f"{self.api_base}{path}",
                headers={**extra, "Authorization": f"Bearer {token}"},
                content=body,
                accept_status=accept_status | {401},
            )
            if status != 401:
                return status, answer
        raise GatewayError("PayPal refused the panel's credentials", retryable=False)

    # --- create -------------------------------------------------------------------------

    def create_payment(self, request: PaymentRequest) -> CreatedPayment:
        currency = currency_code(request.currency)
        value = to_decimal_string(request.amount, paypal_places(currency))
        order = {
            "intent": "CAPTURE",
            "purchase_units": [
                {
                    "reference_id": request.payment_id,
                    "custom_id": request.payment_id,
                    "invoice_id": f"{self.invoice_prefix}{request.payment_id}",
                    "description": request.description[:127],
                    "amount": {"currency_code": currency, "value": value},
                }
            ],
            "payment_source": {
                "paypal": {
                    "experience_context": {
                        "return_url": request.return_url,
                        "cancel_url": request.cancel_url,
                        "user_action": "PAY_NOW",
                        "shipping_preference": "NO_SHIPPING",
                    }
                }
            },
        }
        _, answer = self._api(
            "POST",
            "/v2/checkout/orders",
            body=json.dumps(order).encode(),
            headers={"PayPal-Request-Id": idempotency_key("order", request.payment_id, order)},
        )
        if not isinstance(answer, dict) or not isinstance(answer.get("id"), str):
            raise GatewayError("PayPal answered the order without an id")
        approve = _link(answer, {"payer-action", "approve"})
        if approve is None:
            raise GatewayError("PayPal answered the order without an approval link")
        return CreatedPayment(reference=answer["id"], redirect_url=approve, raw=answer)

    # --- poll and capture ---------------------------------------------------------------

    def fetch_payment(self, reference: str) -> PaymentStatus:
        status, answer = self._api(
            "GET", f"/v2/checkout/orders/{_path_id(reference)}", accept_status=frozenset({404})
        )
        if status == 404:
            # Orders nobody approved and captured in time are dropped by PayPal.
            return PaymentStatus(
                gateway=self.name,
                reference=reference,
                state=PaymentState.EXPIRED,
                payment_id=None,
                amount=None,
                currency=None,
                note="PayPal no longer knows this order",
            )
        return self._order_status(answer, reference)

    def complete_payment(self, reference: str) -> PaymentStatus:
        current = self.fetch_payment(reference)
        if not current.needs_completion:
            return current
        status, answer = self._api(
            "POST",
            f"/v2/checkout/orders/{_path_id(reference)}/capture",
            body=b"{}",
            headers={
                "Prefer": "return=representation",
                "PayPal-Request-Id": f"opensmm-capture-{reference}",
            },
            accept_status=frozenset({422}),
        )
        if status == 422:
            # ORDER_ALREADY_CAPTURED (the webhook and the return page raced), or the
            # payer's instrument was declined: the order itself says which.
            return self.fetch_payment(reference)
        return self._order_status(answer, reference)

    def _order_status(self, order: Any, reference: str) -> PaymentStatus:
        try:
            if not isinstance(order, dict):
                raise TypeError
            state, amount, currency, captures = _order_state(order)
            unit = order["purchase_units"][0]
            payment_id = unit.get("custom_id")
        except (AmountError, KeyError, IndexError, TypeError, ValueError):
            raise GatewayError("PayPal answered with a malformed order") from None
        return PaymentStatus(
            gateway=self.name,
            reference=str(order.get("id") or reference),
            state=state,
            payment_id=payment_id if isinstance(payment_id, str) else None,
            amount=amount,
            currency=currency,
            other_references=captures,
            needs_completion=order.get("status") == "APPROVED",
            raw=order,
        )

    # --- callbacks ----------------------------------------------------------------------

    def verify_callback(self, body: bytes, headers: Mapping[str, str]) -> VerifiedEvent:
        if len(body) > MAX_CALLBACK_BYTES:
            raise VerificationError("the callback is too large")
        try:
            text = body.decode("utf-8")
            event = json.loads(text)
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise VerificationError("the callback is not JSON") from None
        if not isinstance(event, dict):
            raise VerificationError("the callback is not a PayPal event")
        lowered = lower_headers(headers)
        fields: dict[str, str] = {}
        for field_name, header in TRANSMISSION_HEADERS.items():
            value = lowered.get(header, "").strip()
            if not value or len(value) > 2048:
                raise VerificationError(f"the {header.upper()} header is missing")
            fields[field_name] = value
        fields["webhook_id"] = self._webhook_id
        # The event as received, byte for byte, after the other fields (valid JSON: parsed
        # above, so splicing it cannot change the request's structure).
        request = json.dumps(fields)[:-1] + ', "webhook_event": ' + text + "}"
        _, answer = self._api(
            "POST",
            "/v1/notifications/verify-webhook-signature",
            body=request.encode("utf-8"),
            accept_status=frozenset({400}),
        )
        if not isinstance(answer, dict) or answer.get("verification_status") != "SUCCESS":
            raise VerificationError("PayPal did not verify the webhook's signature")
        try:
            return self._event(event)
        except VerificationError:
            raise
        except (AmountError, KeyError, IndexError, TypeError, ValueError, AttributeError):
            raise VerificationError("the PayPal event is malformed") from None

    def _event(self, event: dict[str, Any]) -> VerifiedEvent:
        event_id = event["id"]
        event_type = event["event_type"]
        resource = event["resource"]
        if not isinstance(event_id, str) or not event_id or not isinstance(resource, dict):
            raise VerificationError("the PayPal event is malformed")
        if event_type not in EVENTS:
            raise VerificationError(f"PayPal event type {str(event_type)[:60]!r} is not handled")
        common: dict[str, Any] = {
            "gateway": self.name,
            "event_id": event_id,
            "event_type": event_type,
            "raw": event,
        }
        if event_type == "CHECKOUT.ORDER.APPROVED":
            unit = resource["purchase_units"][0]
            amount, currency = _money(unit["amount"])
            return VerifiedEvent(
                **common,
                state=PaymentState.PENDING,
                reference=_text(resource["id"]),
                payment_id=_optional_text(unit.get("custom_id")),
                amount=amount,
                currency=currency,
                needs_completion=True,
                note="approved by the payer: capture it",
            )
        if event_type == "CUSTOMER.DISPUTE.CREATED":
            transactions = resource.get("disputed_transactions") or []
            first = transactions[0] if transactions else {}
            amount, currency = _money(resource["dispute_amount"])
            refs = tuple(
                disputed["seller_transaction_id"]
                for disputed in transactions
                if isinstance(disputed.get("seller_transaction_id"), str)
            )
            return VerifiedEvent(
                **common,
                state=PaymentState.DISPUTED,
                reference=None,
                other_references=refs,
                payment_id=_optional_text(first.get("custom"))
                or self._from_invoice(first.get("invoice_number")),
                amount=amount,
                currency=currency,
                note=f"dispute {_text(resource['dispute_id'])[:64]}: "
                f"{str(resource.get('reason') or '')[:60]}",
            )
        amount, currency = _money(resource["amount"])
        payment_id = _optional_text(resource.get("custom_id")) or self._from_invoice(
            resource.get("invoice_id")
        )
        if event_type == "PAYMENT.CAPTURE.REFUNDED":
            capture = _capture_of_refund(resource)
            # The event's amount is this refund's; the total refunded of the capture (what
            # the panel debits up to, whatever the order refunds arrive in) is in the
            # refund's seller_payable_breakdown.
            breakdown = resource.get("seller_payable_breakdown") or {}
            total = breakdown.get("total_refunded_amount")
            if total is not None:
                amount, currency = _money(total)
            return VerifiedEvent(
                **common,
                state=PaymentState.REFUNDED,
                reference=None,
                other_references=tuple(r for r in (capture, _text(resource["id"])) if r),
                payment_id=payment_id,
                amount=amount,
                currency=currency,
                needs_review=total is None,
                note=None if total is not None else "PayPal did not report the total refunded",
            )
        order_id = (resource.get("supplementary_data") or {}).get("related_ids", {}).get("order_id")
        state = {
            "PAYMENT.CAPTURE.COMPLETED": PaymentState.PAID,
            "PAYMENT.CAPTURE.PENDING": PaymentState.PENDING,
            "PAYMENT.CAPTURE.DENIED": PaymentState.FAILED,
        }[event_type]
        if state is PaymentState.PAID and resource.get("status") != "COMPLETED":
            state = PaymentState.PENDING
        return VerifiedEvent(
            **common,
            state=state,
            reference=_optional_text(order_id),
            other_references=(_text(resource["id"]),),
            payment_id=payment_id,
            amount=amount,
            currency=currency,
        )

    def _from_invoice(self, invoice: object) -> str | None:
        if isinstance(invoice, str) and invoice.startswith(self.invoice_prefix):
            return invoice[len(self.invoice_prefix) :] or None
        return None


def _order_state(
    order: Mapping[str, Any],
) -> tuple[PaymentState, Decimal | None, str | None, tuple[str, ...]]:
    status = order.get("status")
    unit = order["purchase_units"][0]
    amount, currency = _money(unit["amount"])
    captures = (unit.get("payments") or {}).get("captures") or []
    capture_ids = tuple(c["id"] for c in captures if isinstance(c.get("id"), str))
    if status in {"CREATED", "SAVED", "APPROVED", "PAYER_ACTION_REQUIRED"}:
        return PaymentState.PENDING, amount, currency, capture_ids
    if status == "VOIDED":
        return PaymentState.FAILED, amount, currency, capture_ids
    if status == "COMPLETED" and captures:
        capture = captures[0]
        state = _CAPTURE_STATES.get(str(capture.get("status")))
        if state is None:
            raise ValueError("unknown capture status")
        paid, paid_currency = _money(capture["amount"])
        return state, paid, paid_currency, capture_ids
    raise ValueError("unknown order status")


def _money(value: Any) -> tuple[Decimal, str]:
    if not isinstance(value, dict):
        raise TypeError("amount")
    return parse_decimal_string(value["value"]), currency_code(value["currency_code"])


def _link(answer: Mapping[str, Any], rels: set[str]) -> str | None:
    for link in answer.get("links") or []:
        if isinstance(link, dict) and link.get("rel") in rels and isinstance(link.get("href"), str):
            href: str = link["href"]
            if href.startswith("https://") or href.startswith("http://"):
                return href
    return None


def _capture_of_refund(refund: Mapping[str, Any]) -> str | None:
    """The capture a refund belongs to: its ``up`` link ends in ``/captures/{id}``."""
    for link in refund.get("links") or []:
        if isinstance(link, dict) and link.get("rel") == "up":
            href = str(link.get("href") or "")
            if "/captures/" in href:
                return href.rstrip("/").rsplit("/", 1)[-1] or None
    return None


def _text(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise VerificationError("the PayPal event is malformed")
    return value


def _optional_text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _path_id(reference: str) -> str:
    if not reference or not reference.replace("-", "").isalnum() or len(reference) > 64:
        raise GatewayError("not a PayPal order id", retryable=False)
    return reference
