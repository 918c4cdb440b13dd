"""Stripe Checkout, through the official ``stripe`` library.

Settings: ``secret_key`` (``sk_live_…``/``sk_test_…``: Stripe's test mode is chosen by the
key, so there is no separate sandbox host), ``webhook_secret`` (``whsec_…``, from the
webhook endpoint in the dashboard), optional ``api_base`` (another API host: a local server
in tests) and ``timeout`` (seconds).

A deposit is a Checkout Session in ``payment`` mode with one line item priced in the
panel's currency, in Stripe's minor units. Our payment id travels as the session's
``client_reference_id`` and in its metadata and the PaymentIntent's metadata (so that the
charge, its refunds and disputes name it too). Webhooks are verified by the library
(``Stripe-Signature``: ``t=…,v1=…``, HMAC-SHA256 of ``"{t}.{body}"`` under the webhook
secret, 300 s tolerance).

Events listened for, and what they mean:

- ``checkout.session.completed``: paid when ``payment_status`` is ``paid``; with a delayed
  method (bank debits) it is ``unpaid`` and the payment stays pending until
- ``checkout.session.async_payment_succeeded`` (paid) or ``…_failed`` (failed);
- ``checkout.session.expired``: the customer never paid (expired);
- ``charge.refunded``: refunded (``amount_refunded``: the total refunded so far, which
  may be part of the payment);
- ``charge.dispute.created``: disputed (the disputed amount).

The amount is what Stripe reports (``amount_total`` of the session), in its currency.
"""

from __future__ import annotations

import json
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
from opensmm.payments.gateways.units import AmountError, currency_code, from_minor, to_minor

LIVE_API = "https://api.stripe.com"
METADATA_KEY = "opensmm_payment_id"
TOLERANCE_SECONDS = 300

_SESSION_EVENTS = {
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
    "checkout.session.expired",
}
EVENTS = frozenset(_SESSION_EVENTS | {"charge.refunded", "charge.dispute.created"})


class StripeCheckout:
    name: ClassVar[str] = "stripe"
    automatic: ClassVar[bool] = True
    secret_settings: ClassVar[frozenset[str]] = frozenset({"secret_key", "webhook_secret"})
    # Stripe has no sandbox host: test mode is chosen by the keys (sk_test_…).
    known_settings: ClassVar[frozenset[str]] = secret_settings | {"api_base", "timeout"}

    def __init__(self, settings: Mapping[str, str]) -> None:
        self._secret_key = setting(settings, "secret_key", self.name)
        self._webhook_secret = setting(settings, "webhook_secret", self.name)
        self.api_base = api_base(settings, live=LIVE_API, sandbox=None, gateway=self.name)
        self.timeout = timeout_setting(settings, self.name)
        # The SDK (and what it imports: requests, urllib3…) is loaded with the first Stripe
        # gateway built, not by every process that imports the gateways (idle memory).
        import stripe

        from opensmm.payments.gateways.stripe_transport import HttpxClient

        self._transport = HttpxClient(self.timeout)
        self._client = stripe.StripeClient(
            self._secret_key,
            base_addresses={"api": self.api_base},
            max_network_retries=0,
            http_client=self._transport,
        )

    def __repr__(self) -> str:
        return f"StripeCheckout(api_base={self.api_base!r})"

    def close(self) -> None:
        self._transport.close()

    # --- create -------------------------------------------------------------------------

    def create_payment(self, request: PaymentRequest) -> CreatedPayment:
        currency = currency_code(request.currency)
        unit_amount = to_minor(request.amount, currency)
        params: Any = {
            "mode": "payment",
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": currency.lower(),
                        "unit_amount": unit_amount,
                        "product_data": {"name": request.description},
                    },
                }
            ],
            "success_url": request.return_url,
            "cancel_url": request.cancel_url,
            "client_reference_id": request.payment_id,
            "metadata": {METADATA_KEY: request.payment_id},
            "payment_intent_data": {"metadata": {METADATA_KEY: request.payment_id}},
        }
        # The same payment asked twice (a retry after a timeout) is the same session.
        options: Any = {"idempotency_key": idempotency_key("payment", request.payment_id, params)}
        session = self._call(lambda: self._client.v1.checkout.sessions.create(params, options))
        data = _plain(session)
        session_id = data.get("id")
        url = data.get("url")
        if not isinstance(session_id, str) or not isinstance(url, str):
            raise GatewayError("Stripe answered without a session id or URL")
        return CreatedPayment(reference=session_id, redirect_url=url, raw=data)

    # --- poll ---------------------------------------------------------------------------

    def fetch_payment(self, reference: str) -> PaymentStatus:
        session = self._call(lambda: self._client.v1.checkout.sessions.retrieve(reference))
        data = _plain(session)
        try:
            state = _session_state(data)
            amount, currency = _session_amount(data)
        except (AmountError, KeyError, TypeError, ValueError):
            raise GatewayError("Stripe answered with a malformed session") from None
        return PaymentStatus(
            gateway=self.name,
            reference=str(data.get("id") or reference),
            state=state,
            payment_id=_session_payment_id(data),
            amount=amount,
            currency=currency,
            raw=data,
        )

    def complete_payment(self, reference: str) -> PaymentStatus:
        return self.fetch_payment(reference)

    # --- callbacks ----------------------------------------------------------------------

    def verify_callback(self, body: bytes, headers: Mapping[str, str]) -> VerifiedEvent:
        if len(body) > MAX_CALLBACK_BYTES:
            raise VerificationError("the callback is too large")
        signature = lower_headers(headers).get("stripe-signature")
        if not signature:
            raise VerificationError("the Stripe-Signature header is missing")
        import stripe  # loaded by __init__ already

        try:
            payload = body.decode("utf-8")
            self._client.construct_event(
                payload, signature, self._webhook_secret, tolerance=TOLERANCE_SECONDS
            )
        except stripe.SignatureVerificationError:
            raise VerificationError("the Stripe signature does not verify") from None
        except Exception:  # noqa: BLE001 - a hostile body must be a refusal, never a 500
            raise VerificationError("the callback is not a Stripe event") from None
        try:
            event = json.loads(payload)
            return self._event(event)
        except VerificationError:
            raise
        except (AmountError, KeyError, TypeError, ValueError, AttributeError):
            raise VerificationError("the Stripe event is malformed") from None

    def _event(self, event: dict[str, Any]) -> VerifiedEvent:
        event_id = event["id"]
        event_type = event["type"]
        obj = event["data"]["object"]
        if not isinstance(event_id, str) or not isinstance(obj, dict):
            raise VerificationError("the Stripe event is malformed")
        if event_type not in EVENTS:
            raise VerificationError(f"Stripe event type {str(event_type)[:60]!r} is not handled")
        common: dict[str, Any] = {
            "gateway": self.name,
            "event_id": event_id,
            "event_type": event_type,
            "raw": event,
        }
        if event_type in _SESSION_EVENTS:
            amount, currency = _session_amount(obj)
            if event_type == "checkout.session.completed":
                state = _session_state(obj)
            elif event_type == "checkout.session.async_payment_succeeded":
                state = PaymentState.PAID
            elif event_type == "checkout.session.async_payment_failed":
                state = PaymentState.FAILED
            else:
                state = PaymentState.EXPIRED
            intent = obj.get("payment_intent")
            return VerifiedEvent(
                **common,
                state=state,
                reference=_string(obj["id"]),
                other_references=(intent,) if isinstance(intent, str) else (),
                payment_id=_session_payment_id(obj),
                amount=amount,
                currency=currency,
            )
        currency = currency_code(obj["currency"])
        intent = obj.get("payment_intent")
        metadata = obj.get("metadata") or {}
        payment_id = metadata.get(METADATA_KEY) if isinstance(metadata, dict) else None
        refs = tuple(ref for ref in (intent, obj.get("charge")) if isinstance(ref, str) and ref)
        if event_type == "charge.refunded":
            refunded = from_minor(obj["amount_refunded"], currency)
            whole = obj.get("refunded") is True
            return VerifiedEvent(
                **common,
                state=PaymentState.REFUNDED,
                reference=None,
                other_references=(*refs, _string(obj["id"])),
                payment_id=payment_id if isinstance(payment_id, str) else None,
                amount=refunded,
                currency=currency,
                note=None if whole else "partly refunded",
            )
        # charge.dispute.created
        return VerifiedEvent(
            **common,
            state=PaymentState.DISPUTED,
            reference=None,
            other_references=refs,
            payment_id=payment_id if isinstance(payment_id, str) else None,
            amount=from_minor(obj["amount"], currency),
            currency=currency,
            note=f"dispute {_string(obj['id'])[:64]}: {str(obj.get('reason') or '')[:60]}",
        )

    # --- plumbing -----------------------------------------------------------------------

    def _call(self, call: Any) -> Any:
        import stripe  # loaded by __init__ already

        try:
            return call()
        except stripe.APIConnectionError:
            raise GatewayError("Stripe could not be reached (network error or timeout)") from None
        except stripe.AuthenticationError:
            raise GatewayError("Stripe refused the secret key", retryable=False) from None
        except stripe.PermissionError:
            raise GatewayError("Stripe refused the request: permission", retryable=False) from None
        except stripe.RateLimitError:
            raise GatewayError("Stripe is rate limiting the panel") from None
        except stripe.InvalidRequestError as exc:
            code = str(getattr(exc, "code", None) or "invalid_request")[:60]
            raise GatewayError(f"Stripe refused the request: {code}", retryable=False) from None
        except stripe.StripeError as exc:
            status = getattr(exc, "http_status", None)
            raise GatewayError(f"Stripe failed (HTTP status {status})") from None


def _plain(obj: Any) -> dict[str, Any]:
    try:
        data = obj.to_dict(recursive=True) if hasattr(obj, "to_dict") else dict(obj)
    except (TypeError, ValueError):
        raise GatewayError("Stripe answered something that is not an object") from None
    if not isinstance(data, dict):
        raise GatewayError("Stripe answered something that is not an object")
    return data


def _string(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise VerificationError("the Stripe event is malformed")
    return value


def _session_payment_id(session: Mapping[str, Any]) -> str | None:
    ref = session.get("client_reference_id")
    if isinstance(ref, str) and ref:
        return ref
    metadata = session.get("metadata")
    if isinstance(metadata, dict) and isinstance(metadata.get(METADATA_KEY), str):
        return str(metadata[METADATA_KEY])
    return None


def _session_amount(session: Mapping[str, Any]) -> tuple[Decimal | None, str | None]:
    total = session.get("amount_total")
    currency = session.get("currency")
    if total is None or currency is None:
        return None, None
    code = currency_code(str(currency))
    return from_minor(total, code), code


def _session_state(session: Mapping[str, Any]) -> PaymentState:
    status = session.get("status")
    payment_status = session.get("payment_status")
    if status == "expired":
        return PaymentState.EXPIRED
    if status == "complete" and payment_status == "paid":
        return PaymentState.PAID
    if status in {"open", "complete"} or status is None:
        # complete but unpaid: a delayed method, settled by the async_payment events
        return PaymentState.PENDING
    raise ValueError("unknown session status")
