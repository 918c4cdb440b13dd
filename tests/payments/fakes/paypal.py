"""A fake PayPal REST API: OAuth2, Orders v2, and webhooks with PayPal's signatures.

Follows https://developer.paypal.com/docs/api/orders/v2/ (create, get, capture; the
``PayPal-Request-Id`` idempotency header; ``422 UNPROCESSABLE_ENTITY`` with issue
``ORDER_ALREADY_CAPTURED`` or ``ORDER_NOT_APPROVED``), ``/v1/oauth2/token`` (client
credentials, HTTP basic auth) and webhook signatures as PayPal documents them
(https://developer.paypal.com/api/rest/webhooks/rest/): the message
``{transmission_id}|{transmission_time}|{webhook_id}|{crc32 of the raw body}`` signed
SHA256withRSA with the key of the certificate at ``PAYPAL-CERT-URL``, and
``/v1/notifications/verify-webhook-signature`` checking it against the event it is sent.
"""

from __future__ import annotations

import base64
import html
import itertools
import json
import secrets
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.payments.fakes.server import FakeServer, Raw, Request, route

_ids = itertools.count(1)
_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pid(prefix: str) -> str:
    return f"{prefix}{next(_ids):012d}".upper()


def _error(status: int, name: str, issue: str | None = None) -> tuple[int, Any]:
    body: dict[str, Any] = {"name": name, "message": f"fake {name}", "debug_id": "fakedebug"}
    if issue:
        body["details"] = [{"issue": issue, "description": f"fake {issue}"}]
    return status, body


@dataclass
class FakePayPal(FakeServer):
    client_id: str = "fake-client-id-AbC"
    client_secret: str = "fake-client-secret-EFGH1234XYZ"
    webhook_id: str = "8PT597110X687430LKGECATA"
    tokens: set[str] = field(default_factory=set)
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    idempotent: dict[str, tuple[int, Any]] = field(default_factory=dict)
    # transmission id → the exact body delivered with it
    transmissions: dict[str, bytes] = field(default_factory=dict)
    seen_invoice_ids: set[str] = field(default_factory=set)
    refunded: dict[str, Decimal] = field(default_factory=dict)  # capture id → total
    # With ``serve_approval``, an order's payer-action link is an approval page served by
    # this fake (as PayPal's checkout): "Approve" approves the order and sends the payer back
    # to the order's return_url with ``token`` and ``PayerID``, as PayPal does.
    serve_approval: bool = False
    return_urls: dict[str, str] = field(default_factory=dict)  # order id → return_url

    @property
    def cert_url(self) -> str:
        return "https://api.sandbox.paypal.com/v1/notifications/certs/CERT-fake"

    # --- OAuth2 ---------------------------------------------------------------------------

    @route("POST", "/v1/oauth2/token")
    def token(self, request: Request) -> tuple[int, Any]:
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if request.headers.get("authorization") != f"Basic {expected}":
            return 401, {
                "error": "invalid_client",
                "error_description": "Client Authentication failed",
            }
        if request.form().get("grant_type") != "client_credentials":
            return 400, {"error": "unsupported_grant_type"}
        token = "A21AA" + secrets.token_urlsafe(24)
        self.tokens.add(token)
        return 200, {
            "scope": "https://uri.paypal.com/services/payments/payment",
            "access_token": token,
            "token_type": "Bearer",
            "app_id": "APP-80W284485P519543T",
            "expires_in": 32400,
            "nonce": "fake",
        }

    def _authorized(self, request: Request) -> bool:
        auth = request.headers.get("authorization", "")
        return auth.startswith("Bearer ") and auth[7:] in self.tokens

    def _unauthorized(self) -> tuple[int, Any]:
        return 401, {
            "error": "invalid_token",
            "error_description": "Token signature verification failed",
        }

    # --- Orders v2 -----------------------------------------------------------------------

    @route("POST", "/v2/checkout/orders")
    def create_order(self, request: Request) -> tuple[int, Any]:
        if not self._authorized(request):
            return self._unauthorized()
        key = request.headers.get("paypal-request-id")
        if key and key in self.idempotent:
            return self.idempotent[key]
        try:
            body = request.json()
            assert body["intent"] == "CAPTURE"
            unit = body["purchase_units"][0]
            amount = unit["amount"]
            assert isinstance(amount["value"], str) and amount["currency_code"]
            if amount["currency_code"] in {"JPY", "HUF", "TWD"}:
                assert "." not in amount["value"]
            else:
                assert len(amount["value"].split(".")[1]) == 2
            experience = body["payment_source"]["paypal"]["experience_context"]
            assert experience["return_url"] and experience["cancel_url"]
        except (KeyError, IndexError, AssertionError, ValueError, TypeError):
            return _error(400, "INVALID_REQUEST", "INVALID_PARAMETER_VALUE")
        invoice_id = unit.get("invoice_id")
        if invoice_id in self.seen_invoice_ids:
            return _error(422, "UNPROCESSABLE_ENTITY", "DUPLICATE_INVOICE_ID")
        if invoice_id:
            self.seen_invoice_ids.add(invoice_id)
        order_id = _pid("5O")
        order = {
            "id": order_id,
            "intent": "CAPTURE",
            "status": "PAYER_ACTION_REQUIRED",
            "purchase_units": [
                {
                    "reference_id": unit.get("reference_id", "default"),
                    "custom_id": unit.get("custom_id"),
                    "invoice_id": invoice_id,
                    "amount": dict(amount),
                }
            ],
            "create_time": datetime.now(UTC).isoformat(),
        }
        self.orders[order_id] = order
        self.return_urls[order_id] = experience["return_url"]
        answer = (200, {**self._links(order), "id": order_id, "status": order["status"]})
        if key:
            self.idempotent[key] = answer
        return answer

    def _links(self, order: dict[str, Any]) -> dict[str, Any]:
        return {
            "links": [
                {
                    "href": f"{self.url}/v2/checkout/orders/{order['id']}",
                    "rel": "self",
                    "method": "GET",
                },
                {
                    "href": (f"{self.url}/checkoutnow?token={order['id']}" if self.serve_approval
                             else f"https://www.sandbox.paypal.com/checkoutnow?token={order['id']}"),
                    "rel": "payer-action",
                    "method": "GET",
                },
            ]
        }

    @route("GET", "/v2/checkout/orders/([A-Z0-9]+)")
    def get_order(self, request: Request) -> tuple[int, Any]:
        if not self._authorized(request):
            return self._unauthorized()
        order = self.orders.get(request.groups[0])
        if order is None:
            return _error(404, "RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID")
        return 200, order

    @route("POST", "/v2/checkout/orders/([A-Z0-9]+)/capture")
    def capture_order(self, request: Request) -> tuple[int, Any]:
        if not self._authorized(request):
            return self._unauthorized()
        key = request.headers.get("paypal-request-id")
        if key and key in self.idempotent:
            return self.idempotent[key]
        order = self.orders.get(request.groups[0])
        if order is None:
            return _error(404, "RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID")
        if order["status"] == "COMPLETED":
            return _error(422, "UNPROCESSABLE_ENTITY", "ORDER_ALREADY_CAPTURED")
        if order["status"] != "APPROVED":
            return _error(422, "UNPROCESSABLE_ENTITY", "ORDER_NOT_APPROVED")
        self.settle(order["id"])
        answer = (201, order)
        if key:
            self.idempotent[key] = answer
        return answer

    # --- the payer's approval page (serve_approval) ----------------------------------------

    @route("GET", "/checkoutnow")
    def approval_page(self, request: Request) -> tuple[int, Any]:
        order = self.orders.get(request.query.get("token", ""))
        if order is None or not self.serve_approval:
            return 404, Raw(b"<h1>No such order</h1>")
        amount = order["purchase_units"][0]["amount"]
        shown = f"{amount['value']} {amount['currency_code']}"
        page = (
            "<!doctype html><html><head><title>Fake PayPal</title></head><body>"
            f"<h1>Pay <span id='paypal-amount'>{html.escape(shown)}</span></h1>"
            f"<form method='post' action='/checkoutnow/{html.escape(order['id'])}/approve'>"
            "<button type='submit' id='paypal-approve'>Approve</button></form></body></html>"
        )
        return 200, Raw(page.encode())

    @route("POST", "/checkoutnow/([A-Z0-9]+)/approve")
    def approval_confirm(self, request: Request) -> tuple[int, Any]:
        order_id = request.groups[0]
        if order_id not in self.orders or not self.serve_approval:
            return 404, Raw(b"<h1>No such order</h1>")
        self.approve(order_id)
        back = self.return_urls[order_id]
        joiner = "&" if "?" in back else "?"
        return 303, Raw(b"", headers=(
            ("Location", f"{back}{joiner}token={order_id}&PayerID=FAKEPAYER"),))

    @route("GET", "/favicon.ico")
    def favicon(self, request: Request) -> tuple[int, Any]:
        return 204, Raw(b"", content_type="image/x-icon")

    # --- webhooks -------------------------------------------------------------------------

    @route("POST", "/v1/notifications/verify-webhook-signature")
    def verify(self, request: Request) -> tuple[int, Any]:
        if not self._authorized(request):
            return self._unauthorized()
        try:
            fields = request.json()
            raw_event = _raw_member(request.body.decode(), "webhook_event")
            for name in (
                "auth_algo",
                "cert_url",
                "transmission_id",
                "transmission_sig",
                "transmission_time",
                "webhook_id",
            ):
                assert isinstance(fields[name], str)
        except (KeyError, ValueError, AssertionError):
            return _error(400, "VALIDATION_ERROR", "INVALID_PARAMETER_SYNTAX")
        ok = (
            fields["auth_algo"] == "SHA256withRSA"
            and fields["cert_url"] == self.cert_url
            and fields["webhook_id"] == self.webhook_id
            and _rsa_verifies(
                fields["transmission_sig"],
                _message(
                    fields["transmission_id"],
                    fields["transmission_time"],
                    fields["webhook_id"],
                    raw_event.encode(),
                ),
            )
        )
        return 200, {"verification_status": "SUCCESS" if ok else "FAILURE"}

    def deliver(
        self,
        event_type: str,
        resource: dict[str, Any],
        event_id: str | None = None,
        webhook_id: str | None = None,
    ) -> tuple[bytes, dict[str, str]]:
        """A webhook as PayPal posts it: the body and its transmission headers."""
        event = {
            "id": event_id or f"WH-{_pid('')}-{_pid('')}",
            "event_version": "1.0",
            "create_time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "resource_type": event_type.split(".")[1].lower(),
            "event_type": event_type,
            "summary": f"fake {event_type}",
            "resource": resource,
            "links": [],
        }
        return self.sign(json.dumps(event, indent=1).encode(), webhook_id=webhook_id)

    def sign(self, body: bytes, webhook_id: str | None = None) -> tuple[bytes, dict[str, str]]:
        transmission_id = secrets.token_hex(16)
        transmission_time = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        message = _message(transmission_id, transmission_time, webhook_id or self.webhook_id, body)
        signature = base64.b64encode(
            _KEY.sign(message, padding.PKCS1v15(), hashes.SHA256())
        ).decode()
        self.transmissions[transmission_id] = body
        return body, {
            "PAYPAL-TRANSMISSION-ID": transmission_id,
            "PAYPAL-TRANSMISSION-TIME": transmission_time,
            "PAYPAL-TRANSMISSION-SIG": signature,
            "PAYPAL-CERT-URL": self.cert_url,
            "PAYPAL-AUTH-ALGO": "SHA256withRSA",
            "Content-Type": "application/json",
        }

    # --- what the payer and PayPal do ----------------------------------------------------

    def approve(self, order_id: str) -> dict[str, Any]:
        order = self.orders[order_id]
        order["status"] = "APPROVED"
        order["payer"] = {"payer_id": "FAKEPAYER", "email_address": "buyer@example.com"}
        return json.loads(json.dumps(order))

    def settle(
        self, order_id: str, *, amount: dict[str, str] | None = None, status: str = "COMPLETED"
    ) -> dict[str, Any]:
        """The order is captured: returns the capture (a PAYMENT.CAPTURE.* resource)."""
        order = self.orders[order_id]
        unit = order["purchase_units"][0]
        capture = {
            "id": _pid("3C"),
            "status": status,
            "amount": dict(amount or unit["amount"]),
            "final_capture": True,
            "custom_id": unit["custom_id"],
            "invoice_id": unit["invoice_id"],
            "supplementary_data": {"related_ids": {"order_id": order_id}},
        }
        order["status"] = "COMPLETED"
        unit["payments"] = {"captures": [capture]}
        return json.loads(json.dumps(capture))

    def refund(self, order_id: str, value: str | None = None) -> dict[str, Any]:
        unit = self.orders[order_id]["purchase_units"][0]
        capture = unit["payments"]["captures"][0]
        refund_amount = {**capture["amount"], **({"value": value} if value else {})}
        total = self.refunded.get(capture["id"], Decimal(0)) + Decimal(refund_amount["value"])
        self.refunded[capture["id"]] = total
        full = total >= Decimal(capture["amount"]["value"])
        capture["status"] = "REFUNDED" if full else "PARTIALLY_REFUNDED"
        return {
            "id": _pid("1R"),
            "status": "COMPLETED",
            "amount": refund_amount,
            "seller_payable_breakdown": {
                "gross_amount": refund_amount,
                "total_refunded_amount": {
                    "currency_code": refund_amount["currency_code"],
                    "value": f"{total:.2f}",
                },
            },
            "custom_id": unit["custom_id"],
            "invoice_id": unit["invoice_id"],
            "links": [
                {"href": f"{self.url}/v2/payments/refunds/X", "rel": "self", "method": "GET"},
                {
                    "href": f"{self.url}/v2/payments/captures/{capture['id']}",
                    "rel": "up",
                    "method": "GET",
                },
            ],
        }

    def dispute(self, order_id: str) -> dict[str, Any]:
        unit = self.orders[order_id]["purchase_units"][0]
        capture = unit["payments"]["captures"][0]
        return {
            "dispute_id": _pid("PP-D-"),
            "reason": "MERCHANDISE_OR_SERVICE_NOT_RECEIVED",
            "status": "OPEN",
            "dispute_amount": dict(capture["amount"]),
            "disputed_transactions": [
                {
                    "seller_transaction_id": capture["id"],
                    "invoice_number": unit["invoice_id"],
                    "custom": unit["custom_id"],
                }
            ],
        }


def _message(transmission_id: str, time: str, webhook_id: str, body: bytes) -> bytes:
    return f"{transmission_id}|{time}|{webhook_id}|{zlib.crc32(body)}".encode()


def _rsa_verifies(signature: str, message: bytes) -> bool:
    try:
        _KEY.public_key().verify(
            base64.b64decode(signature), message, padding.PKCS1v15(), hashes.SHA256()
        )
    except (InvalidSignature, ValueError):
        return False
    return True


def _raw_member(text: str, name: str) -> str:
    """The exact text of a top-level member's value in a JSON object."""
    decoder = json.JSONDecoder()
    index = text.index("{") + 1
    while True:
        while text[index] in " \t\r\n,":
            index += 1
        key, index = decoder.raw_decode(text, index)
        while text[index] in " \t\r\n:":
            index += 1
        _, end = decoder.raw_decode(text, index)
        if key == name:
            return text[index:end]
        index = end
