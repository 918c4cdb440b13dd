"""A fake Stripe API: Checkout Sessions, and webhooks signed as Stripe signs them.

Follows https://docs.stripe.com/api/checkout/sessions (form-encoded requests with
bracketed nested keys, ``Authorization: Bearer sk_…``, ``Idempotency-Key``) and
https://docs.stripe.com/webhooks#verify-manually (``Stripe-Signature: t=…,v1=…``,
``v1`` = hex HMAC-SHA256 of ``"{t}.{raw body}"`` under the endpoint's secret).
"""

from __future__ import annotations

import hashlib
import hmac
import html
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.payments.fakes.server import FakeServer, Raw, Request, route

_ids = itertools.count(1)


def _error(status: int, kind: str, code: str | None = None) -> tuple[int, Any]:
    return status, {"error": {"type": kind, "code": code, "message": f"fake {kind}"}}


@dataclass
class FakeStripe(FakeServer):
    secret_key: str = "sk_test_fake_4242424242SECRETKEY"
    webhook_secret: str = "whsec_fake_0123456789WEBHOOKSECRET"
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    idempotent: dict[str, tuple[int, Any]] = field(default_factory=dict)
    # With ``serve_checkout``, a session's ``url`` is a Checkout page served by this fake
    # (for browser journeys): its "Pay" button completes the session, delivers the signed
    # ``checkout.session.completed`` webhook to ``webhook_url`` (the endpoint configured in
    # Stripe's dashboard) and sends the customer to the session's ``success_url``.
    serve_checkout: bool = False
    webhook_url: str | None = None
    webhook_answers: list[int] = field(default_factory=list)

    def _authorized(self, request: Request) -> bool:
        return request.headers.get("authorization") == f"Bearer {self.secret_key}"

    @route("POST", "/v1/checkout/sessions")
    def create_session(self, request: Request) -> tuple[int, Any]:
        if not self._authorized(request):
            return _error(401, "invalid_request_error", "api_key_invalid")
        key = request.headers.get("idempotency-key")
        if key and key in self.idempotent:
            return self.idempotent[key]
        form = request.form()
        try:
            assert form["mode"] == "payment"
            currency = form["line_items[0][price_data][currency]"]
            unit_amount = int(form["line_items[0][price_data][unit_amount]"])
            quantity = int(form["line_items[0][quantity]"])
            assert form["line_items[0][price_data][product_data][name]"]
            success_url, cancel_url = form["success_url"], form["cancel_url"]
        except (KeyError, ValueError, AssertionError):
            return _error(400, "invalid_request_error", "parameter_missing")
        session_id = f"cs_test_{next(_ids):06d}"
        session = {
            "id": session_id,
            "object": "checkout.session",
            "mode": "payment",
            "status": "open",
            "payment_status": "unpaid",
            "amount_subtotal": unit_amount * quantity,
            "amount_total": unit_amount * quantity,
            "currency": currency,
            "client_reference_id": form.get("client_reference_id"),
            "metadata": {
                k[len("metadata[") : -1]: v for k, v in form.items() if k.startswith("metadata[")
            },
            "payment_intent": None,
            "success_url": success_url,
            "cancel_url": cancel_url,
            "url": (f"{self.url}/c/pay/{session_id}" if self.serve_checkout
                    else f"https://checkout.stripe.com/c/pay/{session_id}"),
            "livemode": False,
        }
        self.sessions[session_id] = session
        answer = (200, session)
        if key:
            self.idempotent[key] = answer
        return answer

    @route("GET", "/v1/checkout/sessions/([^/]+)")
    def retrieve_session(self, request: Request) -> tuple[int, Any]:
        if not self._authorized(request):
            return _error(401, "invalid_request_error", "api_key_invalid")
        session = self.sessions.get(request.groups[0])
        if session is None:
            return _error(404, "invalid_request_error", "resource_missing")
        return 200, session

    # --- the Checkout page (serve_checkout) ------------------------------------------------

    @route("GET", "/c/pay/([^/]+)")
    def checkout_page(self, request: Request) -> tuple[int, Any]:
        session = self.sessions.get(request.groups[0])
        if session is None or not self.serve_checkout:
            return 404, Raw(b"<h1>No such session</h1>")
        amount = f"{session['amount_total'] / 100:.2f} {session['currency'].upper()}"
        page = (
            "<!doctype html><html><head><title>Fake Stripe Checkout</title></head><body>"
            f"<h1>Pay <span id='checkout-amount'>{html.escape(amount)}</span></h1>"
            f"<form method='post' action='/c/pay/{html.escape(session['id'])}/confirm'>"
            "<button type='submit' id='checkout-pay'>Pay</button></form>"
            f"<a id='checkout-cancel' href='{html.escape(session['cancel_url'])}'>Back</a>"
            "</body></html>"
        )
        return 200, Raw(page.encode())

    @route("GET", "/favicon.ico")
    def favicon(self, request: Request) -> tuple[int, Any]:
        return 204, Raw(b"", content_type="image/x-icon")

    @route("POST", "/c/pay/([^/]+)/confirm")
    def checkout_confirm(self, request: Request) -> tuple[int, Any]:
        session_id = request.groups[0]
        if session_id not in self.sessions or not self.serve_checkout:
            return 404, Raw(b"<h1>No such session</h1>")
        completed = self.complete(session_id)
        if self.webhook_url:
            body = self.event("checkout.session.completed", completed)
            answer = httpx.post(self.webhook_url, content=body, timeout=30, headers={
                "Content-Type": "application/json; charset=utf-8",
                "Stripe-Signature": self.sign(body),
            })
            self.webhook_answers.append(answer.status_code)
        return 303, Raw(b"", headers=(("Location", completed["success_url"]),))

    # --- what the customer and Stripe do -------------------------------------------------

    def complete(
        self, session_id: str, *, payment_status: str = "paid", amount_total: int | None = None
    ) -> dict[str, Any]:
        """The customer paid on Checkout: the session completes (the event's object)."""
        session = self.sessions[session_id]
        session["status"] = "complete"
        session["payment_status"] = payment_status
        session["payment_intent"] = session.get("payment_intent") or f"pi_{next(_ids):06d}"
        if amount_total is not None:
            session["amount_total"] = amount_total
        return dict(session)

    def expire(self, session_id: str) -> dict[str, Any]:
        session = self.sessions[session_id]
        session["status"] = "expired"
        return dict(session)

    def charge(self, session_id: str, *, refunded: int = 0) -> dict[str, Any]:
        session = self.sessions[session_id]
        return {
            "id": f"ch_{session_id[-6:]}",
            "object": "charge",
            "amount": session["amount_total"],
            "amount_refunded": refunded,
            "refunded": refunded >= session["amount_total"],
            "currency": session["currency"],
            "payment_intent": session["payment_intent"],
            "metadata": dict(session["metadata"]),
            "status": "succeeded",
        }

    def dispute(self, session_id: str, amount: int | None = None) -> dict[str, Any]:
        session = self.sessions[session_id]
        return {
            "id": f"dp_{session_id[-6:]}",
            "object": "dispute",
            "amount": session["amount_total"] if amount is None else amount,
            "currency": session["currency"],
            "charge": f"ch_{session_id[-6:]}",
            "payment_intent": session["payment_intent"],
            "reason": "fraudulent",
            "status": "needs_response",
        }

    def event(self, event_type: str, obj: dict[str, Any], event_id: str | None = None) -> bytes:
        """The webhook's body, as Stripe sends it."""
        event = {
            "id": event_id or f"evt_{next(_ids):06d}",
            "object": "event",
            "api_version": "2025-03-31.basil",
            "created": int(time.time()),
            "data": {"object": obj},
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": event_type,
        }
        return json.dumps(event, indent=2).encode()

    def sign(self, body: bytes, *, timestamp: int | None = None, secret: str | None = None) -> str:
        t = int(time.time()) if timestamp is None else timestamp
        key = (secret or self.webhook_secret).encode()
        v1 = hmac.new(key, f"{t}.".encode() + body, hashlib.sha256).hexdigest()
        return f"t={t},v1={v1}"
