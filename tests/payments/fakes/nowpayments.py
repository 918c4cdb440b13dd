"""A fake NOWPayments API: invoices, the payments list, and IPNs signed as documented.

Follows https://documenter.getpostman.com/view/7907941/2s93JusNJt: ``x-api-key`` on every
call, ``POST /v1/invoice`` (``id`` and ``invoice_url``), ``POST /v1/auth`` (a JWT) and
``GET /v1/payment/?invoiceId=…`` (Bearer JWT; ``{"data": [...]}``), and IPNs: a JSON POST
whose ``x-nowpayments-sig`` header is the hex HMAC-SHA512, under the IPN secret, of the
body's parameters sorted by key (recursively) and serialized as ``JSON.stringify`` does.
The fake serializes its signed string with Python's ``json.dumps(sort_keys=True,
separators=(",", ":"))``, independent of the gateway's own ``canonical_json``; its
amounts are chosen so that Python and JavaScript write them alike (``test_nowpayments``
also checks ``canonical_json`` against Node's ``JSON.stringify`` directly).
"""

from __future__ import annotations

import hashlib
import hmac
import html
import itertools
import json
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx

from tests.payments.fakes.server import FakeServer, Raw, Request, route

_ids = itertools.count(4_522_625_843)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _js(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _error(status: int, code: str) -> tuple[int, Any]:
    return status, {"status": False, "statusCode": status, "code": code, "message": f"fake {code}"}


@dataclass
class FakeNowPayments(FakeServer):
    api_key: str = "FAKE0AP-IKEY0000-SECRETAPIKEY-7777"
    ipn_secret: str = "fake-ipn-secret-ZZZZ9999YYYY"
    email: str = "owner@panel.example"
    password: str = "fake-account-password-KKKK"
    invoices: dict[str, dict[str, Any]] = field(default_factory=dict)
    payments: dict[str, dict[str, Any]] = field(default_factory=dict)
    tokens: set[str] = field(default_factory=set)
    # With ``serve_invoice``, an invoice's invoice_url is a payment page served by this fake:
    # "Pay" pays it in full (``finished``), posts the signed IPN to the invoice's
    # ipn_callback_url and sends the customer to its success_url.
    serve_invoice: bool = False
    ipn_answers: list[int] = field(default_factory=list)

    def _key_ok(self, request: Request) -> bool:
        return request.headers.get("x-api-key") == self.api_key

    @route("POST", "/v1/invoice")
    def create_invoice(self, request: Request) -> tuple[int, Any]:
        if not self._key_ok(request):
            return _error(403, "INVALID_API_KEY")
        try:
            body = json.loads(request.body, parse_float=Decimal)
            price = body["price_amount"]
            assert isinstance(price, (int, Decimal)) and price > 0
            currency = body["price_currency"]
            assert isinstance(currency, str)
        except (ValueError, KeyError, AssertionError):
            return _error(400, "INVALID_REQUEST_PARAMS")
        invoice_id = str(next(_ids))
        invoice = {
            "id": invoice_id,
            "token_id": secrets.token_hex(5),
            "order_id": body.get("order_id"),
            "order_description": body.get("order_description"),
            "price_amount": str(price),
            "price_currency": currency,
            "pay_currency": None,
            "ipn_callback_url": body.get("ipn_callback_url"),
            "invoice_url": (f"{self.url}/payment/?iid={invoice_id}" if self.serve_invoice
                            else f"https://nowpayments.io/payment/?iid={invoice_id}"),
            "success_url": body.get("success_url"),
            "cancel_url": body.get("cancel_url"),
            "created_at": _now(),
            "updated_at": _now(),
        }
        self.invoices[invoice_id] = invoice
        return 200, invoice

    @route("GET", "/payment/")
    def invoice_page(self, request: Request) -> tuple[int, Any]:
        invoice = self.invoices.get(request.query.get("iid", ""))
        if invoice is None or not self.serve_invoice:
            return 404, Raw(b"<h1>No such invoice</h1>")
        shown = f"{invoice['price_amount']} {invoice['price_currency'].upper()}"
        page = (
            "<!doctype html><html><head><title>Fake NOWPayments</title></head><body>"
            f"<h1>Pay <span id='invoice-amount'>{html.escape(shown)}</span> in BTC</h1>"
            f"<form method='post' action='/payment/{html.escape(invoice['id'])}/pay'>"
            "<button type='submit' id='invoice-pay'>Pay</button></form></body></html>"
        )
        return 200, Raw(page.encode())

    @route("POST", "/payment/([0-9]+)/pay")
    def invoice_pay(self, request: Request) -> tuple[int, Any]:
        invoice = self.invoices.get(request.groups[0])
        if invoice is None or not self.serve_invoice:
            return 404, Raw(b"<h1>No such invoice</h1>")
        paid = self.pay(invoice["id"], "finished", pay_amount=0.0004, actually_paid=0.0004)
        if invoice.get("ipn_callback_url"):
            body, headers = self.ipn(paid)
            answer = httpx.post(invoice["ipn_callback_url"], content=body, headers=headers,
                                timeout=30)
            self.ipn_answers.append(answer.status_code)
        return 303, Raw(b"", headers=(("Location", invoice["success_url"]),))

    @route("GET", "/favicon.ico")
    def favicon(self, request: Request) -> tuple[int, Any]:
        return 204, Raw(b"", content_type="image/x-icon")

    @route("POST", "/v1/auth")
    def auth(self, request: Request) -> tuple[int, Any]:
        try:
            body = request.json()
        except ValueError:
            return _error(400, "INVALID_REQUEST_PARAMS")
        if body.get("email") != self.email or body.get("password") != self.password:
            return _error(401, "INVALID_CREDENTIALS")
        token = "eyJfake." + secrets.token_urlsafe(16)
        self.tokens.add(token)
        return 200, {"token": token}

    @route("GET", "/v1/payment/")
    def list_payments(self, request: Request) -> tuple[int, Any]:
        if not self._key_ok(request):
            return _error(403, "INVALID_API_KEY")
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self.tokens:
            return _error(401, "AUTH_REQUIRED")
        invoice_id = request.query.get("invoiceId")
        rows = [
            p
            for p in self.payments.values()
            if invoice_id is None or str(p["invoice_id"]) == invoice_id
        ]
        return 200, {"data": rows, "limit": 100, "page": 0, "pagesCount": 1, "total": len(rows)}

    # --- what the customer and NOWPayments do -------------------------------------------

    def pay(
        self,
        invoice_id: str,
        status: str,
        *,
        pay_amount: float = 0.00025,
        actually_paid: float = 0,
        pay_currency: str = "btc",
        payment_id: int | None = None,
        price_amount: float | int | None = None,
        price_currency: str | None = None,
    ) -> dict[str, Any]:
        """The customer pays the invoice in a coin: a payment is created or moves on."""
        invoice = self.invoices[invoice_id]
        if payment_id is None:
            existing = [p for p in self.payments.values() if str(p["invoice_id"]) == invoice_id]
            payment_id = existing[0]["payment_id"] if existing else next(_ids)
        price = Decimal(invoice["price_amount"])
        payment = {
            "payment_id": payment_id,
            "invoice_id": int(invoice_id),
            "payment_status": status,
            "pay_address": "3EZ2uTdVDAMFXTfc6uLDDKR6o8qKBZXVkj",
            "payin_extra_id": None,
            "price_amount": price_amount
            if price_amount is not None
            else (int(price) if price == price.to_integral() else float(price)),
            "price_currency": price_currency or invoice["price_currency"],
            "pay_amount": pay_amount,
            "actually_paid": actually_paid,
            "actually_paid_at_fiat": 0,
            "pay_currency": pay_currency,
            "order_id": invoice["order_id"],
            "order_description": invoice["order_description"],
            "purchase_id": "5837122679",
            "outcome_amount": actually_paid,
            "outcome_currency": pay_currency,
            "payment_extra_ids": None,
            "fee": {"currency": pay_currency, "depositFee": 0, "withdrawalFee": 0, "serviceFee": 0},
            "created_at": _now(),
            "updated_at": _now(),
        }
        # JavaScript has one number type: a whole float is written (and signed) as an int.
        payment = {k: _js(v) for k, v in payment.items()}
        self.payments[str(payment_id)] = payment
        return dict(payment)

    def ipn(
        self, payment: dict[str, Any], *, secret: str | None = None
    ) -> tuple[bytes, dict[str, str]]:
        """The IPN NOWPayments posts: its body (keys in its own order) and headers."""
        body = json.dumps(payment, indent=2).encode()
        return body, {
            "x-nowpayments-sig": self.sign(payment, secret),
            "Content-Type": "application/json",
        }

    def sign(self, payment: Any, secret: str | None = None) -> str:
        signed = json.dumps(payment, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        key = (secret or self.ipn_secret).encode()
        return hmac.new(key, signed.encode(), hashlib.sha512).hexdigest()
